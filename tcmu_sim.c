/*
 * tcmu-sim's command line: which handler, which config, what to run.
 * Bad input (no such handler, another API major version, a config the
 * handler refuses, a size of zero) gets one line and exit status 2.
 * Licensed under the Apache License, Version 2.0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tcmu_sim.h"

#ifndef TCMUR_VERSION
#define TCMUR_VERSION "0.1.0"
#endif
#ifndef DEFAULT_HANDLER_PATH
#define DEFAULT_HANDLER_PATH "/usr/lib/tcmu-runner"
#endif

#define EXIT_USAGE 2

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: tcmu-sim check [OPTIONS] <subtype>/<config> --size N\n"
		"       tcmu-sim bench [OPTIONS] <subtype>/<config> --size N\n"
		"Run a tcmu-runner handler plugin on a simulated ring, no kernel needed.\n\n"
		"  --handler-path DIR  where handler_<subtype>.so is (default "
		DEFAULT_HANDLER_PATH ")\n"
		"  --size N            the LUN's size; suffixes k, m, g (required)\n"
		"  --block-size B      logical block size (default 512)\n"
		"  --qd N              commands in flight (default 16)\n"
		"bench only:\n"
		"  --rw MODE           randread, randwrite, read, write or randrw\n"
		"                      (70%% reads; default randread)\n"
		"  --bs N              bytes per command (default 4k)\n"
		"  --seconds S         how long (default 5)\n"
		"  --commands N        stop after N commands instead of a time\n"
		"  --json              one JSON object instead of text\n"
		"  -d, --debug         the daemon's debug log on stderr\n"
		"  -h, --help, -V, --version\n");
}

/* "4k", "64M", "1g" -> bytes; 0 on a bad number. */
static uint64_t parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
	}
	return *end || end == s ? 0 : v;
}

static int parse_rw(const char *s, enum sim_rw *rw)
{
	static const char *const names[] = { "randread", "randwrite", "read", "write",
					     "randrw" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			*rw = (enum sim_rw)i;
			return 0;
		}
	}
	return -EINVAL;
}

static int bad(const char *fmt, const char *arg)
{
	fprintf(stderr, "tcmu-sim: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	return EXIT_USAGE;
}

/* Returns -1 to go on, else the exit code. */
static int parse_options(int argc, char **argv, struct sim_opts *o, const char **path,
			 bool *debug)
{
	static const struct option longopts[] = {
		{ "handler-path", required_argument, NULL, 'H' },
		{ "size", required_argument, NULL, 's' },
		{ "block-size", required_argument, NULL, 'b' },
		{ "qd", required_argument, NULL, 'q' },
		{ "rw", required_argument, NULL, 'r' },
		{ "bs", required_argument, NULL, 'B' },
		{ "seconds", required_argument, NULL, 't' },
		{ "commands", required_argument, NULL, 'n' },
		{ "json", no_argument, NULL, 'j' },
		{ "debug", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	int c;

	while ((c = getopt_long(argc, argv, "dhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'H': *path = optarg; break;
		case 's':
			if (!(o->size = parse_size(optarg)))
				return bad("--size '%s': want a size above zero", optarg);
			break;
		case 'b':
			o->block_size = parse_size(optarg);
			if (o->block_size < 512 || o->block_size > 65536 ||
			    (o->block_size & (o->block_size - 1)))
				return bad("--block-size '%s': want a power of two, 512 to 64k",
					   optarg);
			break;
		case 'q':
			o->qd = parse_size(optarg);
			if (!o->qd || o->qd > 512)
				return bad("--qd '%s': want 1 to 512", optarg);
			break;
		case 'r':
			if (parse_rw(optarg, &o->rw))
				return bad("--rw '%s': want randread, randwrite, read, write "
					   "or randrw", optarg);
			break;
		case 'B':
			if (!(o->bs = parse_size(optarg)))
				return bad("--bs '%s': want a size above zero", optarg);
			break;
		case 't':
			o->seconds = strtod(optarg, NULL);
			if (!(o->seconds > 0))
				return bad("--seconds '%s': want a time above zero", optarg);
			break;
		case 'n':
			if (!(o->commands = parse_size(optarg)))
				return bad("--commands '%s': want a count above zero", optarg);
			break;
		case 'j': o->json = true; break;
		case 'd': *debug = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("tcmu-sim %s\n", TCMUR_VERSION); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return EXIT_USAGE;
	}
	o->config = argv[optind];
	if (!o->size)
		return bad("%s: --size is required", o->config);
	if (o->size % o->block_size)
		return bad("%s: --size must be a multiple of the block size", o->config);
	if (o->bs % o->block_size || o->bs > o->size)
		return bad("%s: --bs must be whole blocks and fit the LUN", o->config);
	return -1;
}

/*
 * Load handler_<subtype>.so as the daemon would; exit code or -1. The
 * loader's own words say why a plugin is refused: they are caught and
 * become our one line.
 */
static int load_handler(struct handler_set *set, const char *dir, struct sim_opts *o)
{
	const char *slash = strchr(o->config, '/');
	struct log_cfg caught = *o->log;
	char subtype[64], path[4096], *text = NULL, *why;
	size_t text_len = 0;
	int err;

	if (!slash || slash == o->config || (size_t)(slash - o->config) >= sizeof(subtype))
		return bad("'%s': want <subtype>/<config>", o->config);
	snprintf(subtype, sizeof(subtype), "%.*s", (int)(slash - o->config), o->config);
	snprintf(path, sizeof(path), "%s/handler_%s.so", dir, subtype);
	if (access(path, R_OK) < 0)
		return bad("no handler for '%s' here", path);
	caught.out = open_memstream(&text, &text_len);
	caught.max_prio = TCMU_LOG_ERR;
	caught.journal = false;
	if (!caught.out)
		return bad("%s: no memory", path);
	err = handler_set_load_file(set, path, &caught);
	fclose(caught.out);
	if (err) {
		why = text ? strstr(text, "handler_set_load_file: ") : NULL;
		if (why) {
			why += strlen("handler_set_load_file: ");
			why[strcspn(why, "\n")] = '\0';
		}
		fprintf(stderr, "tcmu-sim: %s\n", why ? why : strerror(-err));
		free(text);
		return EXIT_USAGE;
	}
	free(text);
	o->h = handler_set_find(set, subtype);
	if (!o->h)
		return bad("%s: the plugin serves another subtype", path);
	return -1;
}

/* The handler's own verdict on the config, as targetcli would ask. */
static int check_config(const struct sim_opts *o)
{
	char *why;

	if (handler_check_config(&o->h->ops, o->config, &why))
		return -1;
	fprintf(stderr, "tcmu-sim: %s: refused by the handler: %s\n", o->config,
		why ? why : "invalid config");
	free(why);
	return EXIT_USAGE;
}

/*
 * Data area bytes for @o's load: --qd commands of --bs bytes each, every
 * buffer rounded up with its guard to the simulator's blocks, or the
 * default if that is more. (1 MiB commands at qd 4 need more than 4 MiB.)
 */
static size_t sim_data_size(const struct sim_opts *o)
{
	size_t per = (o->bs + SIM_GUARD_LEN + SIM_DATA_BLOCK - 1) / SIM_DATA_BLOCK *
		     SIM_DATA_BLOCK;
	size_t want = (size_t)o->qd * per;

	return want > SIM_DEFAULT_DATA_SIZE ? want : SIM_DEFAULT_DATA_SIZE;
}

int sim_open(const struct sim_opts *o, struct sim_dev **out)
{
	struct sim_dev_cfg cfg = {
		.ring = { .data_size = sim_data_size(o) },
		.ops = &o->h->ops,
		.handler_cfg = handler_config_part(&o->h->ops, o->config),
		.size = o->size,
		.block_size = o->block_size,
		.max_xfer_blocks = 65536 / o->block_size * 16,
		.serial = "tcmu-sim",
		.log = o->log,
	};

	return sim_dev_open(out, &cfg);
}

int main(int argc, char **argv)
{
	struct sim_opts o = { .block_size = 512, .qd = 16, .rw = SIM_RANDREAD, .bs = 4096,
			      .seconds = 5 };
	const char *dir = DEFAULT_HANDLER_PATH;
	struct handler_set set = { 0 };
	struct log_cfg log;
	bool debug = false, check;
	int rc;

	if (argc < 2 || (strcmp(argv[1], "check") && strcmp(argv[1], "bench"))) {
		if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
			usage(stdout);
			return 0;
		}
		if (argc == 2 && (!strcmp(argv[1], "-V") || !strcmp(argv[1], "--version"))) {
			printf("tcmu-sim %s\n", TCMUR_VERSION);
			return 0;
		}
		usage(stderr);
		return EXIT_USAGE;
	}
	check = !strcmp(argv[1], "check");
	rc = parse_options(argc - 1, argv + 1, &o, &dir, &debug);
	if (rc >= 0)
		return rc;
	log_init(&log, debug);
	if (!debug)
		log.max_prio = TCMU_LOG_ERR;
	o.log = &log;
	rc = load_handler(&set, dir, &o);
	if (rc < 0)
		rc = check_config(&o);
	if (rc < 0)
		rc = check ? (sim_check(&o) ? 1 : 0) : (sim_bench(&o) ? 1 : 0);
	handler_set_clear(&set);
	return rc;
}
