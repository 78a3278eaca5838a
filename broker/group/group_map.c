#include "group/group_map.h"

#include "util/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static size_t group_map_hash(const char *key) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (const unsigned char *c = (const unsigned char *)key; *c; c++)
        h = (h ^ *c) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29));
}

void group_map_init(group_map_t *m) { memset(m, 0, sizeof *m); }

void group_map_free(group_map_t *m, void (*free_value)(void *value)) {
    for (size_t i = 0; i < m->nbuckets; i++) {
        group_map_entry_t *e = m->buckets[i];
        while (e) {
            group_map_entry_t *next = e->next;
            if (free_value)
                free_value(e->value);
            free(e->key);
            free(e);
            e = next;
        }
    }
    free(m->buckets);
    memset(m, 0, sizeof *m);
}

static group_map_entry_t **group_map_slot(const group_map_t *m, const char *key) {
    if (!m->nbuckets)
        return NULL;
    group_map_entry_t **pp = &m->buckets[group_map_hash(key) & (m->nbuckets - 1)];
    while (*pp && strcmp((*pp)->key, key) != 0)
        pp = &(*pp)->next;
    return pp;
}

void *group_map_get(const group_map_t *m, const char *key) {
    group_map_entry_t **pp = group_map_slot(m, key);
    return pp && *pp ? (*pp)->value : NULL;
}

static void group_map_grow(group_map_t *m) {
    size_t n = m->nbuckets ? m->nbuckets * 2 : 16;
    group_map_entry_t **b = mem_calloc(n, sizeof *b);
    for (size_t i = 0; i < m->nbuckets; i++) {
        group_map_entry_t *e = m->buckets[i];
        while (e) {
            group_map_entry_t *next = e->next;
            size_t j = group_map_hash(e->key) & (n - 1);
            e->next = b[j];
            b[j] = e;
            e = next;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
}

void *group_map_put(group_map_t *m, const char *key, void *value) {
    group_map_entry_t **pp = group_map_slot(m, key);
    if (pp && *pp) {
        void *old = (*pp)->value;
        (*pp)->value = value;
        return old;
    }
    if (m->count >= m->nbuckets) {
        group_map_grow(m);
        pp = group_map_slot(m, key);
    }
    group_map_entry_t *e = mem_alloc(sizeof *e);
    e->key = mem_strdup(key);
    e->value = value;
    e->next = NULL;
    *pp = e;
    m->count++;
    return NULL;
}

void *group_map_remove(group_map_t *m, const char *key) {
    group_map_entry_t **pp = group_map_slot(m, key);
    if (!pp || !*pp)
        return NULL;
    group_map_entry_t *e = *pp;
    void *value = e->value;
    *pp = e->next;
    free(e->key);
    free(e);
    m->count--;
    return value;
}

group_map_entry_t *group_map_first(const group_map_t *m, size_t *bucket) {
    for (*bucket = 0; *bucket < m->nbuckets; (*bucket)++)
        if (m->buckets[*bucket])
            return m->buckets[*bucket];
    return NULL;
}

group_map_entry_t *group_map_next(const group_map_t *m, group_map_entry_t *e, size_t *bucket) {
    if (e->next)
        return e->next;
    for ((*bucket)++; *bucket < m->nbuckets; (*bucket)++)
        if (m->buckets[*bucket])
            return m->buckets[*bucket];
    return NULL;
}
