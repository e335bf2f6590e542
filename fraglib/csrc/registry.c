// SPDX-License-Identifier: MIT
/*
 * registry.c - every design, by name (the shared library links them all;
 * an engine links exactly one, see design_direct.h).
 */
#include <string.h>

#include "frag.h"

extern const struct frag_ops frag_ops_topdown;
extern const struct frag_ops frag_ops_bottomup;

const struct frag_ops *const frag_designs[] = {
	&frag_ops_topdown,
	&frag_ops_bottomup,
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
