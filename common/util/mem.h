/*
 * mem — allocation that never returns NULL.
 *
 * A broker that cannot allocate a few bytes cannot keep its promises either;
 * like Redis' zmalloc we log and abort instead of threading an out-of-memory
 * path through every caller. Allocations whose size comes from the network
 * must be bounded by the caller before they get here.
 */
#ifndef SAMSA_MEM_H
#define SAMSA_MEM_H

#include <stddef.h>

void *mem_alloc(size_t size);
void *mem_calloc(size_t n, size_t size);
void *mem_realloc(void *ptr, size_t size);
char *mem_strdup(const char *s);
char *mem_strndup(const char *s, size_t n);

#endif
