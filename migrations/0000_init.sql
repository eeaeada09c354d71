CREATE TABLE `files` (
	`id` text PRIMARY KEY NOT NULL,
	`session_id` text NOT NULL,
	`role` text NOT NULL,
	`original_name` text NOT NULL,
	`path` text NOT NULL,
	`size_bytes` integer NOT NULL,
	`duration_sec` real,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`deleted_at` integer,
	FOREIGN KEY (`session_id`) REFERENCES `sessions`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `files_session` ON `files` (`session_id`);--> statement-breakpoint
CREATE INDEX `files_expiry` ON `files` (`deleted_at`,`expires_at`);--> statement-breakpoint
CREATE TABLE `instructions` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`session_id` text NOT NULL,
	`job_id` text,
	`text` text NOT NULL,
	`intent` text,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`session_id`) REFERENCES `sessions`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `instructions_session` ON `instructions` (`session_id`,`id`);--> statement-breakpoint
CREATE TABLE `jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`session_id` text NOT NULL,
	`chat` text NOT NULL,
	`requester_id` text NOT NULL,
	`input_file_id` text NOT NULL,
	`instruction` text NOT NULL,
	`intent` text NOT NULL,
	`parent_job_id` text,
	`status` text NOT NULL,
	`as_document` integer DEFAULT false NOT NULL,
	`reply_to` text,
	`progress_ref` text,
	`output_file_id` text,
	`result` text,
	`error` text,
	`input_bytes` integer NOT NULL,
	`encode_sec` real,
	`created_at` integer NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	FOREIGN KEY (`session_id`) REFERENCES `sessions`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`input_file_id`) REFERENCES `files`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `jobs_session` ON `jobs` (`session_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `jobs_status` ON `jobs` (`status`);--> statement-breakpoint
CREATE INDEX `jobs_requester` ON `jobs` (`requester_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `kv` (
	`key` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `queue_items` (
	`id` text PRIMARY KEY NOT NULL,
	`queue` text NOT NULL,
	`payload` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`max_attempts` integer DEFAULT 3 NOT NULL,
	`lease_owner` text,
	`lease_until` integer,
	`not_before` integer DEFAULT 0 NOT NULL,
	`last_error` text,
	`seq` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `queue_pick` ON `queue_items` (`queue`,`status`,`not_before`,`seq`);--> statement-breakpoint
CREATE TABLE `sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`platform` text NOT NULL,
	`chat_id` text NOT NULL,
	`user_id` text NOT NULL,
	`chat_kind` text NOT NULL,
	`language` text,
	`backend` text DEFAULT 'local' NOT NULL,
	`backend_session_id` text,
	`backend_task_id` text,
	`last_video_id` text,
	`last_job_id` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `sessions_chat_user` ON `sessions` (`platform`,`chat_id`,`user_id`);