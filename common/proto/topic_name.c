#include "proto/topic_name.h"

#include "util/errmsg.h"

#include <string.h>

/* Java's String.length() of a UTF-8 text: one unit per character, two for
 * characters outside the BMP (4-byte sequences). Bytes that are not valid
 * UTF-8 count one each; such a name is refused for its characters anyway,
 * only which message comes first depends on this count. */
static size_t topic_name_java_length(const char *name) {
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if ((*p & 0xC0) == 0x80)
            continue; /* continuation byte */
        n += *p >= 0xF0 && *p <= 0xF4 ? 2 : 1;
    }
    return n;
}

static bool topic_name_legal_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

static bool topic_name_legal_chars(const char *name, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (!topic_name_legal_char(name[i]))
            return false;
    return true;
}

static bool topic_name_is_dot_or_dotdot(const char *name, size_t len) {
    return (len == 1 || len == 2) && memcmp(name, "..", len) == 0;
}

bool topic_name_valid(const char *name, size_t len) {
    return len > 0 && !topic_name_is_dot_or_dotdot(name, len) && len <= TOPIC_NAME_MAX_LEN &&
           topic_name_legal_chars(name, len);
}

int topic_name_validate(const char *name, char *err, size_t errlen) {
    if (name[0] == '\0') {
        errmsg_set(err, errlen, "Topic name is illegal, it can't be empty");
        return -1;
    }
    size_t len = strlen(name);
    if (topic_name_is_dot_or_dotdot(name, len)) {
        errmsg_set(err, errlen, "Topic name cannot be \".\" or \"..\"");
        return -1;
    }
    if (topic_name_java_length(name) > TOPIC_NAME_MAX_LEN) {
        errmsg_set(err, errlen, "Topic name is illegal, it can't be longer than %d characters, topic name: %s",
                   TOPIC_NAME_MAX_LEN, name);
        return -1;
    }
    if (!topic_name_legal_chars(name, len)) {
        errmsg_set(err, errlen,
                   "Topic name \"%s\" is illegal, it contains a character other than ASCII alphanumerics, "
                   "'.', '_' and '-'",
                   name);
        return -1;
    }
    return 0;
}

bool topic_name_has_collision_chars(const char *name) { return strpbrk(name, "._") != NULL; }

void topic_name_unify_collision_chars(char *name) {
    for (char *p = name; *p; p++)
        if (*p == '.')
            *p = '_';
}

bool topic_name_collide(const char *a, const char *b) {
    for (;; a++, b++) {
        char ca = *a == '.' ? '_' : *a;
        char cb = *b == '.' ? '_' : *b;
        if (ca != cb)
            return false;
        if (ca == '\0')
            return true;
    }
}

bool topic_name_is_internal(const char *name) {
    return strcmp(name, TOPIC_NAME_GROUP_METADATA) == 0 || strcmp(name, TOPIC_NAME_TRANSACTION_STATE) == 0;
}
