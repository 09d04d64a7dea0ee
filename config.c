/*
 * The configuration file; see config.h for its keys and how bad lines
 * are handled. GKeyFile reads it; this file checks the values and finds
 * the lines to name, which GKeyFile's errors do not give.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

#define HANDLER_GROUP "handler."

/* A value's checker: 0, or -EINVAL with @why filled. */
typedef int (*parse_fn)(const char *val, void *field, char *why, size_t why_len);

struct key_def {
	const char *group, *key;
	parse_fn parse;
	size_t off, size;		/* the field in struct config */
};

static int parse_level(const char *val, void *field, char *why, size_t why_len)
{
	int prio = log_level_parse(val);

	if (prio < 0) {
		snprintf(why, why_len, "not a level (error, warning, info, debug, trace)");
		return -EINVAL;
	}
	*(int *)field = prio;
	return 0;
}

static int parse_dest(const char *val, void *field, char *why, size_t why_len)
{
	if (log_dest_parse(val, field)) {
		snprintf(why, why_len, "not a destination (auto, journal, stderr, file)");
		return -EINVAL;
	}
	return 0;
}

static int parse_path(const char *val, void *field, char *why, size_t why_len)
{
	if (val[0] != '/' || strlen(val) >= sizeof(((struct log_sink_cfg *)0)->path)) {
		snprintf(why, why_len, "not an absolute path of under 256 bytes");
		return -EINVAL;
	}
	strcpy(field, val);
	return 0;
}

static int parse_long(const char *val, long min, long max, long *out, char *why,
		      size_t why_len)
{
	char *end;

	errno = 0;
	*out = strtol(val, &end, 10);
	if (errno || end == val || *end || *out < min || *out > max) {
		snprintf(why, why_len, "not a whole number from %ld to %ld", min, max);
		return -EINVAL;
	}
	return 0;
}

static int parse_uint(const char *val, void *field, char *why, size_t why_len)
{
	long v;

	if (parse_long(val, 0, 1000000, &v, why, why_len))
		return -EINVAL;
	*(unsigned int *)field = v;
	return 0;
}

static int parse_mb(const char *val, void *field, char *why, size_t why_len)
{
	long v;

	if (parse_long(val, 0, 1 << 20, &v, why, why_len))
		return -EINVAL;
	*(uint64_t *)field = (uint64_t)v << 20;
	return 0;
}

static int parse_cmd_time_out(const char *val, void *field, char *why, size_t why_len)
{
	long v;

	if (parse_long(val, 0, 3600 * 24, &v, why, why_len))
		return -EINVAL;
	*(int *)field = v;
	return 0;
}

static int parse_qfull_time_out(const char *val, void *field, char *why, size_t why_len)
{
	long v;

	if (parse_long(val, -1, 3600 * 24, &v, why, why_len))
		return -EINVAL;
	*(int *)field = v;
	return 0;
}

#define FIELD(f) offsetof(struct config, f), sizeof(((struct config *)0)->f)
static const struct key_def keys[] = {
	{ "log", "level", parse_level, FIELD(log_level) },
	{ "log", "destination", parse_dest, FIELD(log.dest) },
	{ "log", "file", parse_path, FIELD(log.path) },
	{ "log", "max_size_mb", parse_mb, FIELD(log.max_bytes) },
	{ "log", "keep", parse_uint, FIELD(log.keep) },
	{ "log", "rate_limit_burst", parse_uint, FIELD(log.burst) },
	{ "log", "rate_limit_interval", parse_uint, FIELD(log.interval_s) },
	{ "device", "cmd_time_out", parse_cmd_time_out, FIELD(dev.cmd_time_out) },
	{ "device", "qfull_time_out", parse_qfull_time_out, FIELD(dev.qfull_time_out) },
};

void config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->log_level = TCMU_LOG_INFO;
	log_sink_cfg_default(&c->log);
	c->dev.cmd_time_out = CONFIG_DEV_UNSET;
	c->dev.qfull_time_out = CONFIG_DEV_UNSET;
	c->handlers = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					    (GDestroyNotify)g_hash_table_unref);
}

void config_clear(struct config *c)
{
	if (c->handlers)
		g_hash_table_unref(c->handlers);
	c->handlers = NULL;
}

const char *config_handler_opt(const struct config *c, const char *subtype, const char *key)
{
	GHashTable *opts = g_hash_table_lookup(c->handlers, subtype);

	return opts ? g_hash_table_lookup(opts, key) : NULL;
}

/* The next line of *@p, trimmed, into @buf; false at the end. */
static bool next_line(const char **p, char *buf, size_t len)
{
	const char *s = *p, *e;
	size_t n;

	if (!*s)
		return false;
	e = strchrnul(s, '\n');
	*p = *e ? e + 1 : e;
	n = (size_t)(e - s) < len - 1 ? (size_t)(e - s) : len - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	g_strstrip(buf);
	return true;
}

/* "[name]" -> "name" in place; false if @line is no group line. */
static bool group_name(char *line)
{
	size_t n = strlen(line);

	if (n < 2 || line[0] != '[' || line[n - 1] != ']')
		return false;
	memmove(line, line + 1, n - 2);
	line[n - 2] = '\0';
	return true;
}

unsigned int config_key_line(const char *text, const char *group, const char *key)
{
	char line[1024], *eq;
	unsigned int no = 0, found = 0;
	bool in_group = false;

	while (next_line(&text, line, sizeof(line))) {
		no++;
		if (group_name(line)) {
			in_group = !strcmp(line, group);
			continue;
		}
		eq = strchr(line, '=');
		if (!in_group || line[0] == '#' || !eq)
			continue;
		*eq = '\0';
		if (!strcmp(g_strstrip(line), key))
			found = no;
	}
	return found;
}

unsigned int config_bad_syntax_line(const char *text)
{
	char line[1024];
	unsigned int no = 0;
	bool grouped = false;

	while (next_line(&text, line, sizeof(line))) {
		no++;
		if (!line[0] || line[0] == '#')
			continue;
		if (group_name(line)) {
			grouped = true;
			continue;
		}
		if (!grouped || !strchr(line, '=') || line[0] == '=')
			return no;
	}
	return 0;
}

/* Load @text into @kf, leaving out (and reporting) the lines it refuses. */
static int load_text(GKeyFile *kf, char *text, const char *path, const struct log_cfg *log)
{
	GError *error = NULL;
	int bad = 0;

	while (!g_key_file_load_from_data(kf, text, -1, G_KEY_FILE_NONE, &error)) {
		unsigned int no = config_bad_syntax_line(text);
		char *p = text;

		if (!no || bad >= 64) {
			log_err(log, NULL, "%s: %s; file ignored, settings kept", path,
				error->message);
			g_error_free(error);
			return -EINVAL;
		}
		log_err(log, NULL, "%s:%u: %s; line ignored", path, no, error->message);
		g_clear_error(&error);
		bad++;
		for (unsigned int i = 1; i < no; i++)
			p = strchr(p, '\n') + 1;
		while (*p && *p != '\n')
			*p++ = ' ';	/* blank, so that the line numbers stay */
	}
	return bad;
}

static const struct key_def *find_key(const char *group, const char *key)
{
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(keys[i].group, group) && !strcmp(keys[i].key, key))
			return &keys[i];
	return NULL;
}

/* One known key's value into @out; a bad one keeps @old's. */
static int take_value(struct config *out, const struct config *old, GKeyFile *kf,
		      const char *text, const struct key_def *k, const char *path,
		      const struct log_cfg *log)
{
	char *val = g_key_file_get_string(kf, k->group, k->key, NULL);
	char why[128];
	int err;

	if (!val)
		return 0;
	g_strstrip(val);
	err = k->parse(val, (char *)out + k->off, why, sizeof(why));
	if (err) {
		memcpy((char *)out + k->off, (const char *)old + k->off, k->size);
		log_err(log, NULL, "%s:%u: [%s] %s = '%s': %s; keeping the previous value", path,
			config_key_line(text, k->group, k->key), k->group, k->key, val, why);
	}
	g_free(val);
	return err ? 1 : 0;
}

static void take_handler_group(struct config *out, GKeyFile *kf, const char *group)
{
	GHashTable *opts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	char **names = g_key_file_get_keys(kf, group, NULL, NULL);

	for (char **n = names; n && *n; n++) {
		char *v = g_key_file_get_string(kf, group, *n, NULL);

		if (v)
			g_hash_table_replace(opts, g_strdup(*n), g_strstrip(v));
	}
	g_strfreev(names);
	g_hash_table_replace(out->handlers, g_strdup(group + strlen(HANDLER_GROUP)), opts);
}

/* Groups and keys we do not know: a typo, most likely. Said, not fatal. */
static int take_groups(struct config *out, GKeyFile *kf, const char *text, const char *path,
		       const struct log_cfg *log)
{
	char **groups = g_key_file_get_groups(kf, NULL);
	int unknown = 0;

	for (char **g = groups; *g; g++) {
		char **names;

		if (g_str_has_prefix(*g, HANDLER_GROUP) && (*g)[strlen(HANDLER_GROUP)]) {
			take_handler_group(out, kf, *g);
			continue;
		}
		names = g_key_file_get_keys(kf, *g, NULL, NULL);
		for (char **n = names; n && *n; n++) {
			if (find_key(*g, *n))
				continue;
			log_warn(log, NULL, "%s:%u: [%s] %s: unknown key, ignored", path,
				 config_key_line(text, *g, *n), *g, *n);
			unknown++;
		}
		g_strfreev(names);
	}
	g_strfreev(groups);
	return unknown;
}

int config_load(struct config *out, const char *path, const struct config *old,
		const struct log_cfg *log)
{
	struct config dflt;
	GKeyFile *kf;
	GError *error = NULL;
	char *text, *orig;
	int bad;

	config_init(out);
	if (!g_file_get_contents(path, &text, NULL, &error)) {
		int err = error->domain == G_FILE_ERROR && error->code == G_FILE_ERROR_NOENT ?
			  -ENOENT : -EIO;

		g_error_free(error);
		return err;
	}
	config_init(&dflt);
	kf = g_key_file_new();
	orig = g_strdup(text);		/* load_text blanks the lines it refuses */
	bad = load_text(kf, text, path, log);
	if (bad < 0) {		/* nothing readable: keep everything */
		if (old) {
			/* handlers is the last field */
			memcpy(out, old, offsetof(struct config, handlers));
			g_hash_table_unref(out->handlers);
			out->handlers = g_hash_table_ref(old->handlers);
		}
		bad = 1;
		goto out;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		bad += take_value(out, old ? old : &dflt, kf, orig, &keys[i], path, log);
	bad += take_groups(out, kf, orig, path, log);
out:
	config_clear(&dflt);
	g_key_file_free(kf);
	g_free(orig);
	g_free(text);
	return bad;
}
