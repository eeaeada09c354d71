ALTER TABLE `jobs` ADD `backend` text;--> statement-breakpoint
ALTER TABLE `jobs` ADD `backend_state` text;