/*
 * A device log the test reads back; see log_capture.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log_capture.h"
#include "log_sink.h"

int log_capture_new(struct log_capture *lc)
{
	const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	int fd;

	snprintf(lc->path, sizeof(lc->path), "%.40s/tcmu-log-XXXXXX", dir);
	fd = mkstemp(lc->path);
	if (fd < 0)
		return -errno;
	log_init(&lc->log, true);
	lc->log.journal = false;
	lc->log.out = fdopen(fd, "w");
	if (!lc->log.out) {
		int err = -errno;

		close(fd);
		unlink(lc->path);
		return err;
	}
	return 0;
}

void log_capture_free(struct log_capture *lc)
{
	if (lc->log.out)
		fclose(lc->log.out);
	lc->log.out = NULL;
	unlink(lc->path);
}

char *log_capture_text(struct log_capture *lc)
{
	struct log_sink *sink = __atomic_load_n(&lc->log.sink, __ATOMIC_ACQUIRE);
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	ssize_t n;
	int fd;

	if (sink)		/* its lines are written by a thread of its own */
		log_sink_sync(sink, 10000);

	if (!buf)
		return NULL;
	fd = open(lc->path, O_RDONLY | O_CLOEXEC);
	while (fd >= 0 && (n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += n;
		if (cap - len < 2) {
			char *more = realloc(buf, cap * 2);

			if (!more)
				break;
			buf = more;
			cap *= 2;
		}
	}
	if (fd >= 0)
		close(fd);
	buf[len] = '\0';
	if (getenv("TEST_LOG"))
		fprintf(stderr, "--- log so far ---\n%s--- end ---\n", buf);
	return buf;
}

unsigned int log_capture_count(struct log_capture *lc, const char *needle)
{
	char *text = log_capture_text(lc), *line, *save = NULL;
	unsigned int n = 0;

	if (!text)
		return 0;
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		n += strstr(line, needle) != NULL;
	free(text);
	return n;
}

char *log_capture_line(struct log_capture *lc, const char *needle)
{
	char *text = log_capture_text(lc), *line, *save = NULL, *found = NULL;

	if (!text)
		return NULL;
	for (line = strtok_r(text, "\n", &save); line && !found;
	     line = strtok_r(NULL, "\n", &save))
		if (strstr(line, needle))
			found = strdup(line);
	free(text);
	return found;
}
