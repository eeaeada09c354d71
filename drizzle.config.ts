// drizzle-kit: `npx drizzle-kit generate` writes a new SQL migration into migrations/ from src/storage/schema.ts.
import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'sqlite',
  schema: './src/storage/schema.ts',
  out: './migrations',
});
