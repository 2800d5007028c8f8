/*
 * fuzz_journal.c — replays arbitrary bytes as STATE_DIR/journal.
 *
 * Checks what must hold whatever the file: replay never fails on content,
 * every line is either replayed or counted as corrupt, a corrupt journal is
 * compacted to exactly the live points, series are strictly increasing, and
 * a second replay of the result is clean and identical.
 *
 * Random bytes almost never carry a valid CRC, so an input whose first byte
 * is odd gets the CRC of every "M1 xxxxxxxx\t" line recomputed before the
 * replay: that lets the fuzzer reach the field parsers.  Temporary
 * directories go to /dev/shm when there is one (fsync is cheap there).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t crc32_bitwise(const uint8_t *p, size_t len)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < len; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
	}
	return ~c;
}

static void fix_crcs(uint8_t *p, size_t size)
{
	uint8_t *end = p + size;

	while (p < end) {
		uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		uint8_t *line_end = nl != NULL ? nl : end;

		if (line_end - p >= 12 && memcmp(p, "M1 ", 3) == 0 && p[11] == '\t') {
			uint32_t crc = crc32_bitwise(p + 12, (size_t)(line_end - p - 12));

			for (int i = 0; i < 8; i++)
				p[3 + i] = (uint8_t)"0123456789abcdef"[(crc >> (28 - 4 * i)) & 0xf];
		}
		p = line_end + 1;
	}
}

static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[512];

	if (d != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
}

static int write_journal(const char *dir, const uint8_t *data, size_t size)
{
	char path[512];
	int fd;
	size_t off = 0;

	snprintf(path, sizeof(path), "%s/journal", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	while (off < size) {
		ssize_t w = write(fd, data + off, size - off);

		if (w <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)w;
	}
	close(fd);
	return 0;
}

static void check_series(const struct tg_store *st, const struct tg_store *again,
			 const uint8_t *data, size_t size)
{
	/* look up every field-0 candidate of the input: cheap and covers the ids */
	const uint8_t *p = data, *end = data + size;
	char id[80];

	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		const uint8_t *line_end = nl != NULL ? nl : end;
		const uint8_t *tab1 = memchr(p, '\t', (size_t)(line_end - p));

		if (tab1 != NULL) {
			const uint8_t *f = tab1 + 1;
			const uint8_t *tab2 = memchr(f, '\t', (size_t)(line_end - f));

			if (tab2 != NULL && (size_t)(tab2 - f) < sizeof(id)) {
				const struct tg_series *a, *b;

				memcpy(id, f, (size_t)(tab2 - f));
				id[tab2 - f] = '\0';
				a = tg_store_series(st, id);
				b = tg_store_series(again, id);
				if ((a == NULL) != (b == NULL))
					abort();
				if (a != NULL) {
					if (a->n == 0 || a->n != b->n)
						abort();
					for (size_t i = 1; i < a->n; i++)
						if (a->period[i - 1] >= a->period[i])
							abort();
					if (memcmp(a->period, b->period, a->n * sizeof(tg_day)) != 0 ||
					    memcmp(a->value, b->value, a->n * sizeof(double)) != 0 ||
					    a->last_loaded != b->last_loaded)
						abort();
					if ((a->source == NULL) != (b->source == NULL) ||
					    (a->source != NULL && strcmp(a->source, b->source) != 0))
						abort();
				}
			}
		}
		p = line_end + 1;
	}
}

/* Copies dir/journal to dir2/journal. */
static int copy_journal(const char *dir, const char *dir2)
{
	char path[512], buf[65536];
	int in, out, r = 0;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/journal", dir);
	in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/journal", dir2);
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		close(in);
		return -1;
	}
	while (r == 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			r = -1;
	close(in);
	close(out);
	return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	char dir[64], dir2[64];
	bool have1, have2;
	struct tg_store *st = NULL, *again = NULL;
	struct tg_store_stats s, s2;
	struct tg_error err;
	size_t lines = 0;
	uint8_t *copy = NULL;

	snprintf(dir, sizeof(dir), "%s/fuzz_journal-XXXXXX", base);
	snprintf(dir2, sizeof(dir2), "%s/fuzz_journal-XXXXXX", base);
	have1 = mkdtemp(dir) != NULL;
	have2 = mkdtemp(dir2) != NULL;
	if (size > 0 && (data[0] & 1)) {
		copy = malloc(size);
		if (copy == NULL)
			goto out;
		memcpy(copy, data, size);
		fix_crcs(copy, size);
		data = copy;
	}
	if (!have1 || !have2 || write_journal(dir, data, size) < 0)
		goto out;
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	if (size > 0 && data[size - 1] != '\n')
		lines++;

	st = tg_store_new();
	again = tg_store_new();
	if (st == NULL || again == NULL)
		goto out;
	if (tg_store_open_journal(st, dir, &err) != 0) {
		fprintf(stderr, "open_journal: %s\n", err.msg);
		abort();
	}
	tg_store_stats(st, &s);
	if (s.replayed + s.skipped_corrupt != lines || s.points > s.replayed ||
	    s.indicators > s.points || (s.points > 0 && s.indicators == 0))
		abort();
	if (s.journal_records != (s.skipped_corrupt > 0 ? s.points : lines))
		abort();
	if (tg_store_compact(st, &err) != 0) {
		fprintf(stderr, "compact: %s\n", err.msg);
		abort();
	}
	tg_store_stats(st, &s);
	if (s.journal_records != s.points)
		abort();

	/* the compacted journal replays cleanly to the same series */
	if (copy_journal(dir, dir2) < 0)
		goto out;
	if (tg_store_open_journal(again, dir2, &err) != 0)
		abort();
	tg_store_stats(again, &s2);
	if (s2.skipped_corrupt != 0 || s2.replayed != s.points || s2.points != s.points ||
	    s2.indicators != s.indicators)
		abort();
	check_series(st, again, data, size);
out:
	tg_store_free(st);
	tg_store_free(again);
	free(copy);
	if (have1)
		remove_tree(dir);
	if (have2)
		remove_tree(dir2);
	return 0;
}
