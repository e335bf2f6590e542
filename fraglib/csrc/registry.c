// SPDX-License-Identifier: GPL-2.0-only
/*
 * registry.c - every design, by name (the shared library links them all;
 * an engine links exactly one, see design_direct.h).
 */
#include <string.h>

#include "frag.h"

extern const struct frag_ops frag_ops_topdown;
extern const struct frag_ops frag_ops_bottomup;
extern const struct frag_ops frag_ops_encoded;
extern const struct frag_ops frag_ops_negoffset;
extern const struct frag_ops frag_ops_remaining;
extern const struct frag_ops frag_ops_part2;
extern const struct frag_ops frag_ops_sockfrag;
extern const struct frag_ops frag_ops_slicer1k;
extern const struct frag_ops frag_ops_order0;
extern const struct frag_ops frag_ops_malloc;
extern const struct frag_ops frag_ops_null;

/* The debate's designs in history order, then the baselines. */
const struct frag_ops *const frag_designs[] = {
	&frag_ops_topdown,
	&frag_ops_bottomup,
	&frag_ops_encoded,
	&frag_ops_remaining,
	&frag_ops_negoffset,
	&frag_ops_part2,
	&frag_ops_sockfrag,
	&frag_ops_slicer1k,
	&frag_ops_order0,
	&frag_ops_malloc,
	&frag_ops_null,
	NULL
};

const struct frag_ops *frag_design_find(const char *name)
{
	const struct frag_ops *const *d;

	for (d = frag_designs; *d; d++)
		if (!strcmp((*d)->name, name))
			return *d;
	return NULL;
}
