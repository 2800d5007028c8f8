/*
 * gen.h — the benchmark's workload, as pure functions of (indicator, period).
 *
 * Every value is a hash of its coordinates, not the n-th draw of a sequence,
 * so the generator (bench/gen.c, which writes files) and the driver
 * (bench/bench.c, which fills a store in memory for the evaluation figure)
 * produce exactly the same numbers without sharing a file, and any subset
 * (the last M of 120 periods) is the same data.
 *
 * Indicators are "IND000001".."IND<N>"; periods are months, the last one is
 * December 2025 (BENCH_LAST_YEAR/MONTH); values are whole cents, so that the
 * Italian text "53582,72", PostgreSQL's 53582.72 and cents / 100.0 in C are
 * the same double.
 */
#ifndef TG_BENCH_GEN_H
#define TG_BENCH_GEN_H

#include <stdint.h>
#include <stdio.h>

#define BENCH_LAST_YEAR 2025
#define BENCH_LAST_MONTH 12
#define BENCH_SEED UINT64_C(0x7472616775617264)   /* "traguard" */

static inline uint64_t bench_mix(uint64_t x)
{
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

static inline uint64_t bench_hash(uint64_t ind, uint64_t salt)
{
	return bench_mix(BENCH_SEED ^ bench_mix(ind * UINT64_C(0x100000001b3) + salt));
}

/* A uniform double in [0, 1). */
static inline double bench_unit(uint64_t h)
{
	return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}

/* The base level of an indicator: from 1 to 100,000, spread over 5 decades
 * like real KPIs (percentages, days, euros). */
static inline double bench_base(uint64_t ind)
{
	static const double decades[5] = { 1.0, 10.0, 100.0, 1000.0, 10000.0 };
	uint64_t h = bench_hash(ind, 1);

	return decades[h % 5] * (1.0 + 9.0 * bench_unit(bench_hash(ind, 2)));
}

/* Months since year 0 of period p of m (0 = oldest, m - 1 = December 2025). */
static inline int bench_month_index(int p, int m)
{
	return BENCH_LAST_YEAR * 12 + (BENCH_LAST_MONTH - 1) - (m - 1) + p;
}

/* The value, in cents, of indicator ind (1-based) at absolute month index mi:
 * a level, a slow trend of up to +-0.4% a month, a yearly season, and noise. */
static inline int64_t bench_cents(uint64_t ind, int mi)
{
	double base = bench_base(ind);
	double trend = (bench_unit(bench_hash(ind, 3)) - 0.5) * 0.008;
	double season = 0.05 * bench_unit(bench_hash(ind, 4));
	double noise = (bench_unit(bench_hash(ind, 1000 + (uint64_t)mi)) - 0.5) * 0.1;
	int rel = mi - (BENCH_LAST_YEAR * 12);       /* months since January 2025 */
	int mon = ((mi % 12) + 12) % 12;
	double v = base * (1.0 + trend * rel) * (1.0 + season * (mon < 6 ? 1 : -1) + noise);

	if (v < 0)
		v = -v;
	return (int64_t)(v * 100.0 + 0.5);
}

/* "IND012345" into buf (>= 32 bytes); returns the length. */
static inline int bench_id(uint64_t ind, char *buf, size_t size)
{
	return snprintf(buf, size, "IND%06llu", (unsigned long long)ind);
}

#endif
