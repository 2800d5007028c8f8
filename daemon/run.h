/*
 * run.h — `traguardo run`, the daemon: one sd-event loop with a timer per
 * source, the evaluation timer, signals, and the systemd notifications.
 */
#ifndef TG_DAEMON_RUN_H
#define TG_DAEMON_RUN_H

#include "config.h"
#include "period.h"

/* Loads a configuration, logging every error as FILE:LINE: message; the
 * first one also goes to first (may be NULL).  NULL when not valid. */
struct tg_config *daemon_load_config(const char *path, char *first, size_t size);

/* The wall clock as a person in this time zone reads it. */
tg_time local_now(void);

/* Removes the temporaries an interrupted atomic write left in the state
 * directory an hour ago or more, and logs how many (run and once, at
 * start). */
void daemon_remove_stale_tmp(const char *state_dir);
/* Run as root on a state directory that belongs to another user (the
 * service's): -1, logged, for the commands that write there; else 0. */
int daemon_check_owner(const char *state_dir, const char *path, const char *command);

/* Runs until SIGTERM/SIGINT; returns the exit status (0, or 1 when the
 * configuration or the state directory is not usable at start). */
int daemon_run(const char *path);

#endif
