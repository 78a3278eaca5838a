/*
 * group_map — a string-keyed hash map for the group coordinator: groups by
 * id, a group's committed offsets by (topic, partition). Chained buckets,
 * doubled when the entries outnumber them, so loading an offsets partition
 * of a million records stays linear.
 *
 * The map owns copies of its keys, never the values: the caller frees
 * those (group_map_free takes a function for what is left). Not
 * thread-safe: the coordinator's loop owns every map.
 */
#ifndef SAMSA_GROUP_MAP_H
#define SAMSA_GROUP_MAP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct group_map_entry {
    char *key;
    void *value;
    struct group_map_entry *next;
} group_map_entry_t;

typedef struct group_map {
    group_map_entry_t **buckets;
    size_t nbuckets; /* a power of two, or 0 before the first put */
    size_t count;
} group_map_t;

void group_map_init(group_map_t *m);
/* free_value (may be NULL) is called on each value left. */
void group_map_free(group_map_t *m, void (*free_value)(void *value));

void *group_map_get(const group_map_t *m, const char *key);
/* Sets key to value; returns the value it replaces (NULL: a new key). */
void *group_map_put(group_map_t *m, const char *key, void *value);
/* Removes key; returns its value (NULL: absent). */
void *group_map_remove(group_map_t *m, const char *key);

/* Iteration: for (e = group_map_first(m, &i); e; e = group_map_next(m, e, &i)).
 * The current entry may be removed only after group_map_next moved past it. */
group_map_entry_t *group_map_first(const group_map_t *m, size_t *bucket);
group_map_entry_t *group_map_next(const group_map_t *m, group_map_entry_t *e, size_t *bucket);

#endif
