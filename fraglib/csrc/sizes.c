// SPDX-License-Identifier: GPL-2.0-only
/*
 * sizes.c - packet-size distributions (see sizes.h for the grammar).
 *
 * An error says what dist allows (and why the spec is not it); the
 * engine wraps it as "invalid dist=<spec>: allowed ...", the binding
 * (fraglib.workloads.size_distribution) as a ParameterError.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sizes.h"

/* ---- generator ---- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void frag_rng_seed(struct frag_rng *rng, uint64_t seed)
{
	int i;

	/* splitmix64 never yields four zero words in a row. */
	for (i = 0; i < 4; i++)
		rng->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t frag_rng_next(struct frag_rng *rng)
{
	uint64_t *s = rng->s;
	uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

/* Uniform on [0, n): high half of a 64x64 product (Lemire), bias < n/2^64. */
static inline uint64_t below(uint64_t x, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)x * n) >> 64);
}

uint32_t frag_dist_sample(const struct frag_dist *d, struct frag_rng *rng)
{
	uint64_t x = frag_rng_next(rng);
	uint32_t i;

	switch (d->kind) {
	case FRAG_DIST_FIXED:
		return d->lo;
	case FRAG_DIST_UNIFORM:
		return d->lo + (uint32_t)below(x, (uint64_t)d->hi - d->lo + 1);
	case FRAG_DIST_TABLE:
	default:
		/* High 32 bits pick the column, low 32 bits toss its coin. */
		i = (uint32_t)(((x >> 32) * d->n) >> 32);
		if ((double)(uint32_t)x * 0x1p-32 < d->alias_p[i])
			return d->value[i];
		return d->value[d->alias[i]];
	}
}

int frag_dist_hits(const struct frag_dist *d, uint32_t a, uint32_t b)
{
	uint32_t i;

	if (d->kind != FRAG_DIST_TABLE)
		return a <= d->hi && d->lo <= b;
	for (i = 0; i < d->n; i++)
		if (d->prob[i] > 0 && d->value[i] >= a && d->value[i] <= b)
			return 1;
	return 0;
}

void frag_dist_fill(const struct frag_dist *d, uint64_t seed, uint32_t *out,
		    size_t n)
{
	struct frag_rng rng;
	size_t i;

	frag_rng_seed(&rng, seed);
	for (i = 0; i < n; i++)
		out[i] = frag_dist_sample(d, &rng);
}

/* ---- tables ---- */

void frag_dist_free(struct frag_dist *d)
{
	free(d->value);
	free(d->prob);
	free(d->alias_p);
	free(d->alias);
	memset(d, 0, sizeof(*d));
}

/*
 * Vose's alias method.  Deterministic: the small and large work lists are
 * filled in index order, so one table always gives the same columns.
 */
static int build_alias(struct frag_dist *d)
{
	uint32_t n = d->n, *small, *large, ns = 0, nl = 0, i;
	double *scaled;

	d->alias_p = calloc(n, sizeof(*d->alias_p));
	d->alias = calloc(n, sizeof(*d->alias));
	scaled = calloc(n, sizeof(*scaled));
	small = calloc(n, sizeof(*small));
	large = calloc(n, sizeof(*large));
	if (!d->alias_p || !d->alias || !scaled || !small || !large) {
		free(scaled);
		free(small);
		free(large);
		return -1;
	}
	for (i = 0; i < n; i++) {
		scaled[i] = d->prob[i] * n;
		if (scaled[i] < 1.0)
			small[ns++] = i;
		else
			large[nl++] = i;
	}
	while (ns && nl) {
		uint32_t s = small[--ns], l = large[nl - 1];

		d->alias_p[s] = scaled[s];
		d->alias[s] = l;
		scaled[l] -= 1.0 - scaled[s];
		if (scaled[l] < 1.0) {
			nl--;
			small[ns++] = l;
		}
	}
	/* What is left is 1 up to rounding: always keep the column. */
	while (nl) {
		i = large[--nl];
		d->alias_p[i] = 1.0;
		d->alias[i] = i;
	}
	while (ns) {
		i = small[--ns];
		d->alias_p[i] = 1.0;
		d->alias[i] = i;
	}
	free(scaled);
	free(small);
	free(large);
	return 0;
}

/* Normalise weights, compute mean/min/max, build the alias table. */
static int finish_table(struct frag_dist *d, const double *weight)
{
	double sum = 0;
	uint32_t i;

	d->kind = FRAG_DIST_TABLE;
	d->prob = calloc(d->n, sizeof(*d->prob));
	if (!d->prob)
		return -1;
	for (i = 0; i < d->n; i++)
		sum += weight[i];
	d->lo = UINT32_MAX;
	d->hi = 0;
	d->mean = 0;
	for (i = 0; i < d->n; i++) {
		d->prob[i] = weight[i] / sum;
		d->mean += d->prob[i] * d->value[i];
		if (weight[i] > 0 && d->value[i] < d->lo)
			d->lo = d->value[i];
		if (weight[i] > 0 && d->value[i] > d->hi)
			d->hi = d->value[i];
	}
	return build_alias(d);
}

/* Strict unsigned decimal: digits only, in [1, FRAG_SIZE_MAX]. */
static int parse_size(const char *s, const char *end, uint32_t *out)
{
	unsigned long v = 0;

	if (s == end)
		return -1;
	for (; s < end; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
		if (v > FRAG_SIZE_MAX)
			return -1;
	}
	if (v < 1)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
			 e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* A NAME is a plain file stem: it must not reach outside sizes_dir. */
static int name_ok(const char *name)
{
	const char *c;

	if (!*name || *name == '.')
		return 0;
	for (c = name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' ||
		      *c == '.'))
			return 0;
	return 1;
}

#define STR(x)		#x
#define XSTR(x)		STR(x)
#define CSV_ALLOWED "csv:NAME with NAME.csv in sizes_dir, rows \"size,weight\" " \
		    "(size an integer in [1, " XSTR(FRAG_SIZE_MAX) "], weight >= 0, total > 0)"

static int parse_csv(struct frag_dist *d, const char *name,
		     const char *dir, char *err, size_t len)
{
	char path[4096], line[512];
	double *weight = NULL;
	uint32_t cap = 0;
	long lineno = 0;
	int header_ok = 1, ret = -1;
	FILE *f;

	if (!name_ok(name)) {
		snprintf(err, len, "csv:NAME where NAME "
			 "uses only letters, digits, '_', '-', '.' and does not start "
			 "with '.'");
		return -1;
	}
	if (!dir || !*dir) {
		snprintf(err, len, "csv:NAME only together "
			 "with sizes_dir=<directory holding NAME.csv>");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s.csv", dir, name);
	f = fopen(path, "r");
	if (!f) {
		snprintf(err, len, CSV_ALLOWED
			 " (cannot read %s: %s)", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s = trim(line), *comma, *end, *ws;
		uint32_t size;
		double w;

		lineno++;
		if (!*s || *s == '#')
			continue;
		comma = strchr(s, ',');
		if (!comma)
			goto bad_row;
		*comma = '\0';
		s = trim(s);
		if (header_ok && ((*s >= 'a' && *s <= 'z') ||
				  (*s >= 'A' && *s <= 'Z'))) {
			/* One header ("size,weight") before the first row. */
			header_ok = 0;
			continue;
		}
		header_ok = 0;
		if (parse_size(s, s + strlen(s), &size))
			goto bad_row;
		ws = trim(comma + 1);
		errno = 0;
		w = strtod(ws, &end);
		if (errno || end == ws || *end || !(w >= 0) || isinf(w))
			goto bad_row;
		if (d->n == FRAG_DIST_MAX_ROWS) {
			snprintf(err, len, CSV_ALLOWED
				 ", at most %u rows (%s has more)",
				 FRAG_DIST_MAX_ROWS, path);
			goto out;
		}
		if (d->n == cap) {
			uint32_t *v;
			double *nw;

			cap = cap ? 2 * cap : 64;
			v = realloc(d->value, cap * sizeof(*v));
			if (v)
				d->value = v;
			nw = realloc(weight, cap * sizeof(*nw));
			if (nw)
				weight = nw;
			if (!v || !nw) {
				snprintf(err, len, "out of memory "
					 "reading %s", path);
				goto out;
			}
		}
		d->value[d->n] = size;
		weight[d->n] = w;
		d->n++;
		continue;
bad_row:
		snprintf(err, len, CSV_ALLOWED
			 " (%s line %ld is not)", path, lineno);
		goto out;
	}
	if (ferror(f)) {
		snprintf(err, len, CSV_ALLOWED
			 " (cannot read %s: %s)", path, strerror(errno));
		goto out;
	}
	{
		double sum = 0;
		uint32_t i;

		for (i = 0; i < d->n; i++)
			sum += weight[i];
		if (!d->n || !(sum > 0)) {
			snprintf(err, len, CSV_ALLOWED
				 " (%s has no row with a positive weight)", path);
			goto out;
		}
	}
	if (finish_table(d, weight)) {
		snprintf(err, len, "out of memory");
		goto out;
	}
	ret = 0;
out:
	fclose(f);
	free(weight);
	if (ret)
		frag_dist_free(d);
	return ret;
}

int frag_dist_parse(struct frag_dist *d, const char *spec, const char *dir,
		    char *err, size_t len)
{
	const char *arg;

	memset(d, 0, sizeof(*d));
	if (!strcmp(spec, "imix")) {
		/* Simple IMIX, 7:4:1 (see sizes.h). */
		static const double w[] = { 7, 4, 1 };

		d->n = 3;
		d->value = malloc(3 * sizeof(*d->value));
		if (!d->value)
			goto nomem;
		d->value[0] = 64;
		d->value[1] = 576;
		d->value[2] = 1500;
		if (finish_table(d, w)) {
			frag_dist_free(d);
			goto nomem;
		}
		return 0;
	}
	if (!strncmp(spec, "fixed:", 6)) {
		arg = spec + 6;
		if (parse_size(arg, arg + strlen(arg), &d->lo)) {
			snprintf(err, len, "fixed:N with N "
				 "an integer in [1, %u]", FRAG_SIZE_MAX);
			return -1;
		}
		d->kind = FRAG_DIST_FIXED;
		d->hi = d->lo;
		d->mean = d->lo;
		return 0;
	}
	if (!strncmp(spec, "uniform:", 8)) {
		const char *dash;

		arg = spec + 8;
		dash = strchr(arg, '-');
		if (!dash || parse_size(arg, dash, &d->lo) ||
		    parse_size(dash + 1, dash + 1 + strlen(dash + 1), &d->hi) ||
		    d->lo > d->hi) {
			snprintf(err, len, "uniform:A-B with "
				 "integers 1 <= A <= B <= %u", FRAG_SIZE_MAX);
			return -1;
		}
		d->kind = FRAG_DIST_UNIFORM;
		d->mean = ((double)d->lo + d->hi) / 2;
		return 0;
	}
	if (!strncmp(spec, "csv:", 4))
		return parse_csv(d, spec + 4, dir, err, len);
	snprintf(err, len, "fixed:N, uniform:A-B, imix "
		 "or csv:NAME");
	return -1;
nomem:
	snprintf(err, len, "out of memory");
	return -1;
}

int frag_dist_parse_param(struct frag_dist *d, const char *spec,
			  const char *dir, char *err, size_t len)
{
	char why[FRAG_DIST_ERR_LEN];

	if (!frag_dist_parse(d, spec, dir, why, sizeof(why)))
		return 0;
	snprintf(err, len, "invalid dist=%s: allowed %s", spec, why);
	return -1;
}
