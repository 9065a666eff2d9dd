/*
 * s3plan's CloudTrail pre-filter: one pass over a decompressed log file, in C.
 *
 * It splits the file into records and reads a handful of fields of each one. Records that could be evidence
 * (a superset of what templates/sql/evidence.sql keeps) are copied out as newline-delimited JSON for the engine,
 * which runs the same SQL on them. Every other record is only counted: per bucket (S3 records) or as "other"
 * (non-S3 records), with first/last eventTime, inside the window. Anything unexpected (a structural error, an
 * escape sequence in a field it reads, a repeated key, a non-string where a string belongs) makes the record a
 * candidate or, for structural errors, makes the whole file fall back to the engine: never a guess. Strings it
 * skips are checked too: invalid UTF-8, an escaped lone surrogate or a resources element that is not an object
 * makes the record a candidate (the engine reads it as it would in the whole file), and a control character or a
 * bad escape sends the whole file back.
 *
 * scan(data, record_depth, since, until) -> None | (candidates: bytes, records: int, groups: list)
 *   record_depth: nesting depth at which records open (0: one per line, 1: JSON array, 2: {"Records": [...]})
 *   since/until: ISO-8601 bounds as str or None (eventTime >= since and eventTime < until)
 *   groups: [(is_s3: bool, bucket: str | None, count: int, first: str | None, last: str | None, owner: str | None,
 *             data_reads: int, data_writes: int, region: str | None)]
 *   region: the awsRegion of the group's first record that had one (its ARN partition, for the bucket's drafts).
 *   data_reads/data_writes: of `count`, the S3 data events (eventCategory "Data") by readOnly. A record without
 *   eventCategory or readOnly (older records) is a candidate: the engine decides what it is.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_DEPTH 64
#define TIME_MAX 40
#define OWNER_MAX 40
#define REGION_MAX 32

typedef struct { const char *p; Py_ssize_t n; } str_t;      /* raw bytes of a string value, n < 0: absent */

/* The keys the engine declares (planner/sources/engine.py RECORD_COLUMNS and the query's JSON keys): the
 * engine refuses a record that repeats one of them, so a repeat makes the record a candidate. */
enum key_id {
    K_NONE = 0, K_EVENT_TIME, K_EVENT_SOURCE, K_EVENT_NAME, K_REQUEST_PARAMETERS, K_ADDITIONAL, K_RESOURCES,
    K_USER_IDENTITY, K_BUCKET_NAME, K_TYPE, K_ACCOUNT_ID, K_SIGNATURE_VERSION, K_ACL_REQUIRED, K_X_AMZ_ACL,
    K_X_AMZ_GRANT,
    K_AWS_REGION, K_EVENT_TYPE, K_SOURCE_IP, K_USER_AGENT, K_ERROR_CODE, K_REQUEST_ID, K_EVENT_ID, K_RECIPIENT,
    K_KEY, K_PREFIX, K_VERSION_ID, K_AUTH_METHOD, K_PRINCIPAL_ID, K_ARN, K_INVOKED_BY, K_SESSION_CONTEXT, K_SESSION_ISSUER,
    K_EVENT_CATEGORY, K_READ_ONLY, K_ACL_FIELD,
    K_OTHER
};

typedef struct {
    str_t event_time, event_source, event_name, bucket, id_type, id_account, sigv, owner, category, region;
    str_t res_type, res_account;                               /* the current resources[] element */
    int read_only;                                             /* readOnly: 1 true, 0 false, -1 absent */
    int owner_set;                                             /* the first AWS::S3::Bucket resource was seen */
    int candidate;                                             /* 1: send the record to the engine */
    unsigned seen;                                             /* bit per captured field, to spot repeats */
} record_t;

typedef struct {
    char *bucket; Py_ssize_t bucket_len; int has_bucket; int is_s3;
    long long count, data_reads, data_writes;
    char first[TIME_MAX], last[TIME_MAX]; int has_time;
    char owner[OWNER_MAX]; Py_ssize_t owner_len; int has_owner;
    char region[REGION_MAX]; Py_ssize_t region_len; int has_region;
    int used;
} group_t;

typedef struct { group_t *slots; size_t cap, used; } table_t;

static int key_is(const char *p, Py_ssize_t n, const char *lit) {
    size_t len = strlen(lit);
    return (size_t)n == len && memcmp(p, lit, len) == 0;
}

#define K_KEY_LIKE(p, n) (key_is(p, n, "key") ? K_KEY : key_is(p, n, "prefix") ? K_PREFIX : K_VERSION_ID)

/* Which key this is, given where it stands: rel_depth 1 = record top level, parent = key of the container. */
static enum key_id classify_key(const char *p, Py_ssize_t n, int rel_depth, enum key_id parent, enum key_id grand) {
    if (rel_depth == 1) {
        if (key_is(p, n, "eventTime")) return K_EVENT_TIME;
        if (key_is(p, n, "eventSource")) return K_EVENT_SOURCE;
        if (key_is(p, n, "eventName")) return K_EVENT_NAME;
        if (key_is(p, n, "requestParameters")) return K_REQUEST_PARAMETERS;
        if (key_is(p, n, "additionalEventData")) return K_ADDITIONAL;
        if (key_is(p, n, "resources")) return K_RESOURCES;
        if (key_is(p, n, "userIdentity")) return K_USER_IDENTITY;
        if (key_is(p, n, "awsRegion")) return K_AWS_REGION;
        if (key_is(p, n, "eventType")) return K_EVENT_TYPE;
        if (key_is(p, n, "sourceIPAddress")) return K_SOURCE_IP;
        if (key_is(p, n, "userAgent")) return K_USER_AGENT;
        if (key_is(p, n, "errorCode")) return K_ERROR_CODE;
        if (key_is(p, n, "requestID")) return K_REQUEST_ID;
        if (key_is(p, n, "eventID")) return K_EVENT_ID;
        if (key_is(p, n, "recipientAccountId")) return K_RECIPIENT;
        if (key_is(p, n, "eventCategory")) return K_EVENT_CATEGORY;
        if (key_is(p, n, "readOnly")) return K_READ_ONLY;
        return K_OTHER;
    }
    switch (parent) {
    case K_REQUEST_PARAMETERS:
        if (key_is(p, n, "bucketName")) return K_BUCKET_NAME;
        if (key_is(p, n, "key") || key_is(p, n, "prefix") || key_is(p, n, "versionId")) return K_KEY_LIKE(p, n);
        if (key_is(p, n, "x-amz-acl")) return K_X_AMZ_ACL;
        if (key_is(p, n, "acl")) return K_ACL_FIELD;
        if (n >= 12 && memcmp(p, "x-amz-grant-", 12) == 0) return K_X_AMZ_GRANT;
        return K_OTHER;
    case K_ADDITIONAL:
        if (key_is(p, n, "SignatureVersion")) return K_SIGNATURE_VERSION;
        if (key_is(p, n, "aclRequired")) return K_ACL_REQUIRED;
        if (key_is(p, n, "AuthenticationMethod")) return K_AUTH_METHOD;
        return K_OTHER;
    case K_USER_IDENTITY:
        if (key_is(p, n, "type")) return K_TYPE;
        if (key_is(p, n, "accountId")) return K_ACCOUNT_ID;
        if (key_is(p, n, "principalId")) return K_PRINCIPAL_ID;
        if (key_is(p, n, "arn")) return K_ARN;
        if (key_is(p, n, "invokedBy")) return K_INVOKED_BY;
        if (key_is(p, n, "sessionContext")) return K_SESSION_CONTEXT;
        return K_OTHER;
    case K_SESSION_CONTEXT:
        return key_is(p, n, "sessionIssuer") ? K_SESSION_ISSUER : K_OTHER;
    case K_SESSION_ISSUER:
        if (key_is(p, n, "type")) return K_TYPE;
        if (key_is(p, n, "arn")) return K_ARN;
        if (key_is(p, n, "accountId")) return K_ACCOUNT_ID;
        return K_OTHER;
    default:
        break;
    }
    if (rel_depth == 3 && grand == K_RESOURCES) {
        if (key_is(p, n, "type")) return K_TYPE;
        if (key_is(p, n, "accountId")) return K_ACCOUNT_ID;
        if (key_is(p, n, "ARN")) return K_ARN;
    }
    return K_OTHER;
}

/* Remember a string value; a repeated field or an escape makes the record a candidate. */
static void capture(record_t *r, str_t *slot, unsigned bit, const char *p, Py_ssize_t n, int escaped) {
    if (escaped || (r->seen & bit)) r->candidate = 1;
    r->seen |= bit;
    slot->p = p;
    slot->n = n;
}

static void on_string_value(record_t *r, const char *p, Py_ssize_t n, int escaped, int rel_depth,
                            enum key_id key, enum key_id parent, enum key_id grand) {
    if (key == K_REQUEST_PARAMETERS || key == K_ADDITIONAL || key == K_USER_IDENTITY || key == K_RESOURCES
        || key == K_SESSION_CONTEXT || key == K_SESSION_ISSUER) {
        r->candidate = 1;                                     /* a string where an object belongs */
        return;
    }
    if (rel_depth == 1) {
        if (key == K_EVENT_TIME) capture(r, &r->event_time, 1u << 0, p, n, escaped);
        else if (key == K_EVENT_SOURCE) capture(r, &r->event_source, 1u << 1, p, n, escaped);
        else if (key == K_EVENT_NAME) capture(r, &r->event_name, 1u << 2, p, n, escaped);
        else if (key == K_EVENT_CATEGORY) capture(r, &r->category, 1u << 7, p, n, escaped);
        else if (key == K_AWS_REGION) capture(r, &r->region, 1u << 8, p, n, escaped);
        else if (key == K_READ_ONLY) r->candidate = 1;        /* a string where true/false belongs: the engine judges */
    } else if (rel_depth == 2 && parent == K_REQUEST_PARAMETERS && key == K_X_AMZ_ACL) {
        /* bucket-owner-full-control is still accepted once ACLs are disabled: only another value is evidence */
        if (escaped || !key_is(p, n, "bucket-owner-full-control")) r->candidate = 1;
    } else if (rel_depth == 2 && parent == K_REQUEST_PARAMETERS && key == K_ACL_FIELD) {
        /* the ?acl subresource is [""] or ""; a value is a POST upload's acl form field: an ACL it sets */
        if (escaped || n > 0) r->candidate = 1;
    } else if (rel_depth == 2 && parent == K_REQUEST_PARAMETERS && key == K_BUCKET_NAME) {
        capture(r, &r->bucket, 1u << 3, p, n, escaped);
    } else if (rel_depth == 2 && parent == K_ADDITIONAL && key == K_SIGNATURE_VERSION) {
        capture(r, &r->sigv, 1u << 4, p, n, escaped);
    } else if (rel_depth == 2 && parent == K_USER_IDENTITY && key == K_TYPE) {
        capture(r, &r->id_type, 1u << 5, p, n, escaped);
    } else if (rel_depth == 2 && parent == K_USER_IDENTITY && key == K_ACCOUNT_ID) {
        capture(r, &r->id_account, 1u << 6, p, n, escaped);
    } else if (rel_depth == 3 && grand == K_RESOURCES && (key == K_TYPE || key == K_ACCOUNT_ID)) {
        if (escaped) r->candidate = 1;
        if (key == K_TYPE) { r->res_type.p = p; r->res_type.n = n; }
        else { r->res_account.p = p; r->res_account.n = n; }
    }
}

/* A number or boolean under a key the engine declares: the engine converts or refuses it, so it judges; but for
 * the record's own readOnly flag, true or false is what CloudTrail writes. */
static void on_scalar_value(record_t *r, enum key_id key, int rel_depth, const char *p, Py_ssize_t n) {
    if (key == K_READ_ONLY && rel_depth == 1 && r->read_only < 0 && (key_is(p, n, "true") || key_is(p, n, "false"))) {
        r->read_only = key_is(p, n, "true");
        return;
    }
    if (key != K_OTHER && key != K_NONE) r->candidate = 1;
}

static int str_eq(str_t s, const char *lit) { return s.n >= 0 && key_is(s.p, s.n, lit); }

/* Whether the record might be evidence: a superset of the SQL's is_evidence, for S3 records. */
static void judge(record_t *r) {
    if (r->event_time.n >= TIME_MAX || r->owner.n >= OWNER_MAX) r->candidate = 1;  /* too long to keep here */
    if (r->candidate || !str_eq(r->event_source, "s3.amazonaws.com")) return;
    if (r->category.n < 0 || r->read_only < 0) r->candidate = 1;  /* an older record: the SQL tells data events */
    if (r->sigv.n >= 0 && !str_eq(r->sigv, "SigV4")) r->candidate = 1;
    if (str_eq(r->event_name, "PutObjectAcl") || str_eq(r->event_name, "PutBucketAcl")) r->candidate = 1;
    if (str_eq(r->id_type, "AWSAccount")) r->candidate = 1;
    if (str_eq(r->id_account, "anonymous") || str_eq(r->id_account, "ANONYMOUS_PRINCIPAL")) r->candidate = 1;
}

static uint64_t hash_bytes(const char *p, Py_ssize_t n, int salt) {
    uint64_t h = 1469598103934665603ULL ^ (uint64_t)salt;
    for (Py_ssize_t i = 0; i < n; i++) { h ^= (unsigned char)p[i]; h *= 1099511628211ULL; }
    return h;
}

static int table_grow(table_t *t);

static group_t *table_get(table_t *t, int is_s3, str_t bucket) {
    if (t->cap == 0 || (t->used + 1) * 2 > t->cap) {
        if (table_grow(t) < 0) return NULL;
    }
    int has = bucket.n >= 0;
    Py_ssize_t n = has ? bucket.n : 0;
    size_t i = (size_t)(hash_bytes(has ? bucket.p : "", n, is_s3 * 2 + has) & (t->cap - 1));
    for (;;) {
        group_t *g = &t->slots[i];
        if (!g->used) {
            g->used = 1; g->is_s3 = is_s3; g->has_bucket = has; g->bucket_len = n;
            g->bucket = PyMem_RawMalloc(n > 0 ? (size_t)n : 1);
            if (g->bucket == NULL) return NULL;
            if (n > 0) memcpy(g->bucket, bucket.p, (size_t)n);
            t->used++;
            return g;
        }
        if (g->is_s3 == is_s3 && g->has_bucket == has && g->bucket_len == n
            && (n == 0 || memcmp(g->bucket, bucket.p, (size_t)n) == 0)) return g;
        i = (i + 1) & (t->cap - 1);
    }
}

static int table_grow(table_t *t) {
    size_t cap = t->cap ? t->cap * 2 : 64;
    group_t *slots = PyMem_RawCalloc(cap, sizeof(group_t));
    if (slots == NULL) return -1;
    table_t next = {slots, cap, 0};
    for (size_t i = 0; i < t->cap; i++) {
        group_t *g = &t->slots[i];
        if (!g->used) continue;
        int has = g->has_bucket;
        size_t j = (size_t)(hash_bytes(has ? g->bucket : "", g->bucket_len, g->is_s3 * 2 + has) & (cap - 1));
        while (slots[j].used) j = (j + 1) & (cap - 1);
        slots[j] = *g;
        next.used++;
    }
    PyMem_RawFree(t->slots);
    *t = next;
    return 0;
}

static void table_free(table_t *t) {
    for (size_t i = 0; i < t->cap; i++) if (t->slots[i].used) PyMem_RawFree(t->slots[i].bucket);
    PyMem_RawFree(t->slots);
    t->slots = NULL; t->cap = t->used = 0;
}

static int cmp_str(str_t s, const char *p, Py_ssize_t n) {
    Py_ssize_t m = s.n < n ? s.n : n;
    int c = memcmp(s.p, p, (size_t)m);
    if (c != 0) return c;
    return (s.n > n) - (s.n < n);
}

/* Count a record that is not a candidate; returns -1 on memory error. */
static int count_record(table_t *t, record_t *r, str_t since, str_t until) {
    if (since.n >= 0 || until.n >= 0) {
        if (r->event_time.n < 0) return 0;
        if (since.n >= 0 && cmp_str(r->event_time, since.p, since.n) < 0) return 0;
        if (until.n >= 0 && cmp_str(r->event_time, until.p, until.n) >= 0) return 0;
    }
    int is_s3 = str_eq(r->event_source, "s3.amazonaws.com");
    str_t none = {NULL, -1};
    group_t *g = table_get(t, is_s3, is_s3 ? r->bucket : none);
    if (g == NULL) return -1;
    g->count++;
    if (is_s3 && str_eq(r->category, "Data")) {
        if (r->read_only) g->data_reads++; else g->data_writes++;
    }
    if (r->event_time.n >= 0 && r->event_time.n < TIME_MAX) {
        str_t tm = r->event_time;
        if (!g->has_time || cmp_str(tm, g->first, (Py_ssize_t)strlen(g->first)) < 0) {
            memcpy(g->first, tm.p, (size_t)tm.n); g->first[tm.n] = 0;
        }
        if (!g->has_time || cmp_str(tm, g->last, (Py_ssize_t)strlen(g->last)) > 0) {
            memcpy(g->last, tm.p, (size_t)tm.n); g->last[tm.n] = 0;
        }
        g->has_time = 1;
    }
    if (is_s3 && !g->has_owner && r->owner.n >= 0 && r->owner.n < OWNER_MAX) {
        memcpy(g->owner, r->owner.p, (size_t)r->owner.n); g->owner_len = r->owner.n; g->has_owner = 1;
    }
    if (is_s3 && !g->has_region && r->region.n >= 0 && r->region.n < REGION_MAX) {
        memcpy(g->region, r->region.p, (size_t)r->region.n); g->region_len = r->region.n; g->has_region = 1;
    }
    return 0;
}

typedef struct { char *buf; size_t len, cap; } out_t;

static int out_append_record(out_t *o, const char *p, Py_ssize_t n) {
    size_t need = o->len + (size_t)n + 1;
    if (need > o->cap) {
        size_t cap = o->cap ? o->cap : 65536;
        while (cap < need) cap *= 2;
        char *buf = PyMem_RawRealloc(o->buf, cap);
        if (buf == NULL) return -1;
        o->buf = buf; o->cap = cap;
    }
    char *dst = o->buf + o->len;
    memcpy(dst, p, (size_t)n);
    for (Py_ssize_t i = 0; i < n; i++) if (dst[i] == '\n' || dst[i] == '\r') dst[i] = ' ';
    dst[n] = '\n';
    o->len = need;
    return 0;
}

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

enum { STR_ESCAPED = 1, STR_INVALID = 2, STR_SURROGATE = 4, STR_BAD_UTF8 = 8 };

static int hex_digit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

/* Length of the well-formed UTF-8 sequence that a byte >= 0x80 opens at p[0:n] (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF); 0 when it is not one, -1 when the data ends inside it. */
static int utf8_length(const unsigned char *p, Py_ssize_t n) {
    unsigned char c = p[0], lo = 0x80, hi = 0xBF;
    int len;
    if (c >= 0xC2 && c <= 0xDF) len = 2;
    else if (c == 0xE0) { len = 3; lo = 0xA0; }
    else if (c == 0xED) { len = 3; hi = 0x9F; }
    else if (c >= 0xE1 && c <= 0xEF) len = 3;
    else if (c == 0xF0) { len = 4; lo = 0x90; }
    else if (c >= 0xF1 && c <= 0xF3) len = 4;
    else if (c == 0xF4) { len = 4; hi = 0x8F; }
    else return 0;
    for (int k = 1; k < len; k++) {
        if (k >= n) return -1;
        if (p[k] < (k == 1 ? lo : 0x80) || p[k] > (k == 1 ? hi : 0xBF)) return 0;
    }
    return len;
}

/* The string that opens at s[i]: index of its closing quote, or -1 when the data ends first. `flags` gets
 * STR_ESCAPED for a backslash, STR_SURROGATE for a \uD800-\uDFFF escape (the engine refuses one unpaired),
 * STR_BAD_UTF8 for bytes that are not UTF-8 (the engine refuses those too) and STR_INVALID for what is not JSON
 * (a raw control character, an unknown escape). One pass, 16 bytes at a time where SSE2 is there. */
static Py_ssize_t scan_string(const char *s, Py_ssize_t n, Py_ssize_t i, int *flags) {
    Py_ssize_t j = i + 1;
    *flags = 0;
    for (;;) {
#if defined(__SSE2__)
        const __m128i quote = _mm_set1_epi8('"'), slash = _mm_set1_epi8('\\'), ctl = _mm_set1_epi8(0x1f);
        while (j + 16 <= n) {
            __m128i v = _mm_loadu_si128((const __m128i *)(s + j));
            __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, slash)),
                                       _mm_cmpeq_epi8(_mm_max_epu8(v, ctl), ctl));
            int mask = _mm_movemask_epi8(hit) | _mm_movemask_epi8(v);  /* and bytes >= 0x80 */
            if (mask) { j += __builtin_ctz((unsigned)mask); break; }
            j += 16;
        }
#endif
        while (j < n && s[j] != '"' && s[j] != '\\' && (unsigned char)s[j] >= 0x20 && (unsigned char)s[j] < 0x80) j++;
        if (j >= n) return -1;
        unsigned char c = (unsigned char)s[j];
        if (c == '"') return j;
        if (c == '\\') {
            *flags |= STR_ESCAPED;
            if (j + 1 >= n) return -1;
            char e = s[j + 1];
            if (e == 'u') {
                if (j + 5 >= n) return -1;
                if (!(hex_digit(s[j + 2]) && hex_digit(s[j + 3]) && hex_digit(s[j + 4]) && hex_digit(s[j + 5]))) {
                    *flags |= STR_INVALID;
                } else if ((s[j + 2] == 'd' || s[j + 2] == 'D') && strchr("89abAB", s[j + 3]) != NULL) {
                    *flags |= STR_SURROGATE;
                }
                j += 6;
            } else {
                if (e == '\0' || strchr("\"\\/bfnrt", e) == NULL) *flags |= STR_INVALID;
                j += 2;
            }
        } else if (c >= 0x80) {
            int len = utf8_length((const unsigned char *)s + j, n - j);
            if (len < 0) return -1;
            if (len == 0) *flags |= STR_BAD_UTF8;
            j += len ? len : 1;
        } else {
            *flags |= STR_INVALID;
            j++;
        }
    }
}

/* true, false, null, or a JSON number. */
static int valid_scalar(const char *p, Py_ssize_t n) {
    if (key_is(p, n, "true") || key_is(p, n, "false") || key_is(p, n, "null")) return 1;
    Py_ssize_t i = 0;
    if (i < n && p[i] == '-') i++;
    if (i >= n) return 0;
    if (p[i] == '0') i++;
    else if (p[i] >= '1' && p[i] <= '9') while (i < n && p[i] >= '0' && p[i] <= '9') i++;
    else return 0;
    if (i < n && p[i] == '.') {
        i++;
        if (i >= n || p[i] < '0' || p[i] > '9') return 0;
        while (i < n && p[i] >= '0' && p[i] <= '9') i++;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-')) i++;
        if (i >= n || p[i] < '0' || p[i] > '9') return 0;
        while (i < n && p[i] >= '0' && p[i] <= '9') i++;
    }
    return i == n;
}

static Py_ssize_t skip_ws(const char *s, Py_ssize_t n, Py_ssize_t i) {
    while (i < n && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) i++;
    return i;
}

static int optional_str(PyObject *obj, str_t *out) {
    out->p = NULL; out->n = -1;
    if (obj == Py_None) return 0;
    Py_ssize_t n;
    const char *p = PyUnicode_AsUTF8AndSize(obj, &n);
    if (p == NULL) return -1;
    out->p = p; out->n = n;
    return 0;
}

static PyObject *text_or_none(int present, const char *p, Py_ssize_t n) {
    if (!present) Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(p, n, "replace");
}

static PyObject *groups_to_list(table_t *t) {
    PyObject *list = PyList_New(0);
    if (list == NULL) return NULL;
    for (size_t i = 0; i < t->cap; i++) {
        group_t *g = &t->slots[i];
        if (!g->used) continue;
        PyObject *item = Py_BuildValue(
            "(ONLNNNLLN)", g->is_s3 ? Py_True : Py_False, text_or_none(g->has_bucket, g->bucket, g->bucket_len),
            g->count, text_or_none(g->has_time, g->first, (Py_ssize_t)strlen(g->first)),
            text_or_none(g->has_time, g->last, (Py_ssize_t)strlen(g->last)),
            text_or_none(g->has_owner, g->owner, g->owner_len), g->data_reads, g->data_writes,
            text_or_none(g->has_region, g->region, g->region_len));
        if (item == NULL || PyList_Append(list, item) < 0) { Py_XDECREF(item); Py_DECREF(list); return NULL; }
        Py_DECREF(item);
    }
    return list;
}

/* What may come next in an open container (by absolute depth), so malformed JSON is refused as the engine would. */
enum { ST_TOP_MANY, ST_TOP_ONE, ST_TOP_DONE, ST_KEY_OR_END, ST_KEY, ST_VALUE, ST_VALUE_OR_END, ST_COMMA_OR_END };

/* A value starts in the container at `depth`: allowed only where a value is expected. */
static int begin_value(char *state, int depth) {
    char st = state[depth];
    if (st == ST_TOP_MANY) return depth == 0;
    if (st == ST_TOP_ONE) { state[depth] = ST_TOP_DONE; return 1; }
    if (st == ST_VALUE || st == ST_VALUE_OR_END) { state[depth] = ST_COMMA_OR_END; return 1; }
    return 0;
}

/* Whether a container of kind `c` ('{' or '[') is the shape the engine declares under `key`. */
static int container_fits(enum key_id key, char c) {
    switch (key) {
    case K_REQUEST_PARAMETERS: case K_ADDITIONAL: case K_USER_IDENTITY: case K_SESSION_CONTEXT: case K_SESSION_ISSUER:
        return c == '{';
    case K_RESOURCES:
        return c == '[';
    case K_ACL_FIELD:
        return c == '[';                                      /* the ?acl subresource of older records: [""] */
    case K_OTHER: case K_NONE:
        return 1;
    default:
        return 0;                                             /* a container where a string belongs */
    }
}

/* Whether a value at this depth is an element of the record's `resources` list (the engine declares objects). */
static int in_resource_list(int rel_depth, const enum key_id *keys) {
    return rel_depth == 2 && keys[1] == K_RESOURCES;
}

static void record_reset(record_t *r) {
    memset(r, 0, sizeof *r);
    r->event_time.n = r->event_source.n = r->event_name.n = r->bucket.n = -1;
    r->id_type.n = r->id_account.n = r->sigv.n = r->owner.n = r->category.n = r->region.n = -1;
    r->res_type.n = r->res_account.n = -1;
    r->read_only = -1;
}

/* A scan over one file fed in pieces. Between pieces it keeps the container state at the last checkpoint (a
 * point between records, outside any record) and the bytes after it that are not parsed yet (`carry`). */
typedef struct {
    PyObject_HEAD
    int record_depth, ok, nomem, finished;
    char *bounds;                                             /* since and until, owned */
    str_t since, until;
    table_t table;
    out_t out, carry;
    Py_ssize_t retry_at;                                      /* carry length worth another try at joining */
    long long records;
    int depth, records_keys, in_records;                      /* container state at the checkpoint */
    char is_obj[MAX_DEPTH + 2], state[MAX_DEPTH + 2];
} scanner_t;

typedef struct { int depth, records_keys, in_records; char is_obj[4], state[4]; } checkpoint_t;

static void save_checkpoint(const scanner_t *sc, checkpoint_t *ck) {
    ck->depth = sc->depth; ck->records_keys = sc->records_keys; ck->in_records = sc->in_records;
    memcpy(ck->is_obj, sc->is_obj, 4); memcpy(ck->state, sc->state, 4);
}

static void load_checkpoint(scanner_t *sc, const checkpoint_t *ck) {
    sc->depth = ck->depth; sc->records_keys = ck->records_keys; sc->in_records = ck->in_records;
    memcpy(sc->is_obj, ck->is_obj, 4); memcpy(sc->state, ck->state, 4);
}

/* Parse s[0:n] on from the scanner's state. Returns how many bytes are done with: up to the last checkpoint
 * when a record or token is cut off by the end of the data (the caller feeds those bytes again with more), all
 * of them otherwise. `stop_at` > 0 returns at the first checkpoint at or past it. With `final`, data that ends
 * mid-record is malformed. Sets sc->ok = 0 on malformed JSON and sc->nomem on memory errors. */
static Py_ssize_t parse(scanner_t *sc, const char *s, Py_ssize_t n, int final, Py_ssize_t stop_at) {
    const int record_depth = sc->record_depth;
    enum key_id keys[MAX_DEPTH + 2];                          /* last key seen, by depth relative to the record */
    uint64_t seen_keys[MAX_DEPTH + 2];                        /* classified keys seen in the open object */
    char *is_obj = sc->is_obj, *state = sc->state;            /* by absolute depth */
    int depth = sc->depth, ok = 1;
    memset(keys, 0, sizeof keys);
    memset(seen_keys, 0, sizeof seen_keys);
    record_t rec;
    memset(&rec, 0, sizeof rec);
    Py_ssize_t rec_start = -1, ck_at = 0, i = 0;
    checkpoint_t ck;
    save_checkpoint(sc, &ck);

#define CUT_OFF() do { if (final) ok = 0; else goto cut_off; } while (0)
    while (ok && (i = skip_ws(s, n, i)) < n) {
        if (depth <= record_depth) {                          /* between records: a checkpoint */
            sc->depth = depth;
            if (stop_at > 0 && i >= stop_at) return i;
            save_checkpoint(sc, &ck);
            ck_at = i;
        }
        char c = s[i];
        int rel = depth - record_depth;                       /* depth relative to the record, when inside one */
        if (c == '{' || c == '[') {
            if (!begin_value(state, depth)) { ok = 0; break; }
            if (depth == record_depth) {
                if (c != '{' || !sc->in_records) { ok = 0; break; }
                record_reset(&rec);
                rec_start = i;
            } else if ((rel >= 1 && !container_fits(keys[rel], c)) || (in_resource_list(rel, keys) && c != '{')) {
                rec.candidate = 1;                            /* an unexpected shape: the engine judges */
            }
            if (++depth > MAX_DEPTH) { ok = 0; break; }
            is_obj[depth] = (c == '{');
            state[depth] = c == '{' ? ST_KEY_OR_END : ST_VALUE_OR_END;
            rel = depth - record_depth;
            if (rel >= 1) { keys[rel] = K_NONE; seen_keys[rel] = 0; }
            if (rel == 3 && keys[1] == K_RESOURCES) rec.res_type.n = rec.res_account.n = -1;
            i++;
        } else if (c == '}' || c == ']') {
            if (depth == 0 || is_obj[depth] != (c == '}')) { ok = 0; break; }
            if (state[depth] != ST_COMMA_OR_END && state[depth] != (c == '}' ? ST_KEY_OR_END : ST_VALUE_OR_END)) {
                ok = 0; break;                                /* a trailing comma, or a key without a value */
            }
            if (rel == 3 && keys[1] == K_RESOURCES && c == '}' && !rec.owner_set
                && str_eq(rec.res_type, "AWS::S3::Bucket")) {
                rec.owner = rec.res_account;                  /* the SQL's first bucket resource, even without one */
                rec.owner_set = 1;
            }
            depth--;
            i++;
            if (depth == record_depth && rec_start >= 0) {
                judge(&rec);
                if (rec.candidate) {
                    if (out_append_record(&sc->out, s + rec_start, i - rec_start) < 0) { sc->nomem = 1; ok = 0; break; }
                } else if (count_record(&sc->table, &rec, sc->since, sc->until) < 0) { sc->nomem = 1; ok = 0; break; }
                sc->records++;
                rec_start = -1;
            }
        } else if (c == '"') {
            int flags;
            Py_ssize_t end = scan_string(s, n, i, &flags);
            if (end < 0) { CUT_OFF(); break; }
            if (flags & STR_INVALID) { ok = 0; break; }       /* not JSON: the engine reports the file */
            if (flags & (STR_SURROGATE | STR_BAD_UTF8)) rec.candidate = 1;  /* the engine judges (and re-writes) it */
            const char *p = s + i + 1;
            Py_ssize_t len = end - i - 1;
            int escaped = flags & STR_ESCAPED;
            int want_key = depth > 0 && (state[depth] == ST_KEY_OR_END || state[depth] == ST_KEY);
            if (want_key) {
                Py_ssize_t after = skip_ws(s, n, end + 1);
                if (after >= n) { CUT_OFF(); break; }
                if (s[after] != ':') { ok = 0; break; }
                state[depth] = ST_VALUE;
                if (depth == 1 && record_depth == 2) {
                    sc->in_records = key_is(p, len, "Records");
                    if (sc->in_records && ++sc->records_keys > 1) { ok = 0; break; }
                }
                if (rel >= 1) {
                    enum key_id k = classify_key(p, len, rel, rel >= 2 ? keys[rel - 1] : K_NONE,
                                                 rel >= 3 ? keys[rel - 2] : K_NONE);
                    if (rel <= 3 && escaped) rec.candidate = 1;  /* might be a key we read */
                    if (k == K_ACL_REQUIRED || k == K_X_AMZ_GRANT) rec.candidate = 1;
                    if (k != K_OTHER && k != K_X_AMZ_GRANT) {  /* grant headers differ by name: a candidate anyway */
                        uint64_t bit = 1ULL << k;
                        if (seen_keys[rel] & bit) { ok = 0; break; }  /* the engine refuses repeated keys */
                        seen_keys[rel] |= bit;
                    }
                    keys[rel] = k;
                }
                i = after + 1;
            } else {
                if (!begin_value(state, depth) || depth == record_depth) { ok = 0; break; }
                if (in_resource_list(rel, keys)) rec.candidate = 1;  /* a resource that is not an object */
                if (rel >= 1 && keys[rel] != K_OTHER) {
                    on_string_value(&rec, p, len, escaped, rel, keys[rel],
                                    rel >= 2 ? keys[rel - 1] : K_NONE, rel >= 3 ? keys[rel - 2] : K_NONE);
                }
                i = end + 1;
            }
        } else if (c == ',') {
            if (depth == 0 || state[depth] != ST_COMMA_OR_END) { ok = 0; break; }
            state[depth] = is_obj[depth] ? ST_KEY : ST_VALUE;
            i++;
        } else {
            if (!begin_value(state, depth) || depth == record_depth) { ok = 0; break; }
            Py_ssize_t j = i;
            while (j < n && s[j] != ',' && s[j] != '}' && s[j] != ']' && s[j] != ' ' && s[j] != '\n'
                   && s[j] != '\r' && s[j] != '\t') j++;
            if (j >= n && !final) goto cut_off;               /* the number may go on in the next piece */
            if (!valid_scalar(s + i, j - i)) { ok = 0; break; }
            if (rel >= 1 && !(j - i == 4 && memcmp(s + i, "null", 4) == 0)) {
                if (in_resource_list(rel, keys)) rec.candidate = 1;
                on_scalar_value(&rec, keys[rel], rel, s + i, j - i);
            }
            i = j;
        }
    }
#undef CUT_OFF
    if (!ok) { sc->ok = 0; return 0; }
    if (depth <= record_depth && rec_start < 0) {
        sc->depth = depth;
        if (final && depth != 0) sc->ok = 0;
        return n;
    }
    if (final) { sc->ok = 0; return 0; }
cut_off:
    load_checkpoint(sc, &ck);
    return ck_at;
}

static int out_append(out_t *o, const char *p, Py_ssize_t n) {
    if (n <= 0) return 0;
    size_t need = o->len + (size_t)n;
    if (need > o->cap) {
        size_t cap = o->cap ? o->cap : 65536;
        while (cap < need) cap *= 2;
        char *buf = PyMem_RawRealloc(o->buf, cap);
        if (buf == NULL) return -1;
        o->buf = buf; o->cap = cap;
    }
    memcpy(o->buf + o->len, p, (size_t)n);
    o->len = need;
    return 0;
}

#define JOIN_BYTES 16384

/* Parse the next piece of the file. The bytes left over from the last piece are first joined with the start of
 * this one (then, if the record runs on, with all of it), so the record cut between them is parsed whole; the
 * rest of the piece is parsed where it lies. */
static void feed_bytes(scanner_t *sc, const char *s, Py_ssize_t n) {
    Py_ssize_t pos = 0;
    if (sc->carry.len > 0) {
        Py_ssize_t before = (Py_ssize_t)sc->carry.len, taken = 0;
        if (before + n < sc->retry_at) {                      /* a huge record: wait until it doubles */
            if (out_append(&sc->carry, s, n) < 0) sc->nomem = 1, sc->ok = 0;
            return;
        }
        for (;;) {
            Py_ssize_t take = taken == 0 && n > JOIN_BYTES ? JOIN_BYTES : n;
            if (out_append(&sc->carry, s + taken, take - taken) < 0) { sc->nomem = 1; sc->ok = 0; return; }
            taken = take;
            Py_ssize_t done = parse(sc, sc->carry.buf, (Py_ssize_t)sc->carry.len, 0, before);
            if (!sc->ok) return;
            if (done >= before) { pos = done - before; break; }
            memmove(sc->carry.buf, sc->carry.buf + done, sc->carry.len - (size_t)done);
            sc->carry.len -= (size_t)done;
            before -= done;
            if (taken == n) {                                 /* still cut off: try again once it has doubled */
                sc->retry_at = 2 * (Py_ssize_t)sc->carry.len;
                return;
            }
        }
        sc->carry.len = 0;
        sc->retry_at = 0;
    }
    Py_ssize_t done = parse(sc, s + pos, n - pos, 0, 0);
    if (sc->ok && pos + done < n && out_append(&sc->carry, s + pos + done, n - pos - done) < 0) {
        sc->nomem = 1; sc->ok = 0;
    }
}

static void scanner_dealloc(scanner_t *sc) {
    table_free(&sc->table);
    PyMem_RawFree(sc->out.buf);
    PyMem_RawFree(sc->carry.buf);
    PyMem_RawFree(sc->bounds);
    Py_TYPE(sc)->tp_free((PyObject *)sc);
}

static int scanner_init(scanner_t *sc, PyObject *args, PyObject *kwds) {
    PyObject *since_obj, *until_obj;
    int record_depth;
    if (sc->bounds != NULL) {                                 /* a second __init__ would leak and mix counts */
        PyErr_SetString(PyExc_RuntimeError, "a Scanner is initialised once: make a new one");
        return -1;
    }
    if (!PyArg_ParseTuple(args, "iOO", &record_depth, &since_obj, &until_obj)) return -1;
    if (record_depth < 0 || record_depth > 2) {
        PyErr_SetString(PyExc_ValueError, "record_depth must be 0, 1 or 2");
        return -1;
    }
    str_t since, until;
    if (optional_str(since_obj, &since) < 0 || optional_str(until_obj, &until) < 0) return -1;
    Py_ssize_t total = (since.n > 0 ? since.n : 0) + (until.n > 0 ? until.n : 0);
    sc->bounds = PyMem_RawMalloc((size_t)total + 1);
    if (sc->bounds == NULL) { PyErr_NoMemory(); return -1; }
    sc->since = since; sc->until = until;
    if (since.n > 0) { memcpy(sc->bounds, since.p, (size_t)since.n); sc->since.p = sc->bounds; }
    if (until.n > 0) {
        Py_ssize_t at = since.n > 0 ? since.n : 0;
        memcpy(sc->bounds + at, until.p, (size_t)until.n);
        sc->until.p = sc->bounds + at;
    }
    sc->record_depth = record_depth;
    sc->ok = 1;
    sc->state[0] = record_depth == 0 ? ST_TOP_MANY : ST_TOP_ONE;
    sc->in_records = record_depth != 2;
    return 0;
}

static PyObject *scanner_feed(scanner_t *sc, PyObject *args) {
    Py_buffer view;
    if (!PyArg_ParseTuple(args, "y*", &view)) return NULL;
    if (sc->finished) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "feed() after finish()");
        return NULL;
    }
    if (sc->ok) {
        Py_BEGIN_ALLOW_THREADS
        feed_bytes(sc, view.buf, view.len);
        Py_END_ALLOW_THREADS
    }
    PyBuffer_Release(&view);
    if (sc->nomem) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

/* None when the file is malformed (the engine reads it whole), else (candidates, records, groups). */
static PyObject *scanner_finish(scanner_t *sc, PyObject *unused) {
    if (sc->finished) {
        PyErr_SetString(PyExc_ValueError, "finish() called twice");
        return NULL;
    }
    sc->finished = 1;
    if (sc->ok) {
        Py_BEGIN_ALLOW_THREADS
        parse(sc, sc->carry.buf ? sc->carry.buf : "", (Py_ssize_t)sc->carry.len, 1, 0);
        Py_END_ALLOW_THREADS
    }
    if (sc->nomem) return PyErr_NoMemory();
    if (!sc->ok) Py_RETURN_NONE;
    PyObject *groups = groups_to_list(&sc->table);
    PyObject *cands = groups ? PyBytes_FromStringAndSize(sc->out.buf ? sc->out.buf : "", (Py_ssize_t)sc->out.len)
                             : NULL;
    if (groups && cands) return Py_BuildValue("(NLN)", cands, sc->records, groups);
    Py_XDECREF(groups);
    Py_XDECREF(cands);
    return NULL;
}

static PyMethodDef scanner_methods[] = {
    {"feed", (PyCFunction)scanner_feed, METH_VARARGS, "Parse the next piece of the file (any split will do)."},
    {"finish", (PyCFunction)scanner_finish, METH_NOARGS,
     "End of file: None when it is malformed, else (candidates, records, groups)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject scanner_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "planner.sources.cloudtrail._prefilter.Scanner",
    .tp_basicsize = sizeof(scanner_t),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Scanner(record_depth, since, until): the pre-filter over one file, fed in pieces.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)scanner_init,
    .tp_dealloc = (destructor)scanner_dealloc,
    .tp_methods = scanner_methods,
};

/* The whole file at once: Scanner(record_depth, since, until), one feed, finish. */
static PyObject *scan(PyObject *self, PyObject *args) {
    PyObject *data, *since, *until;
    int record_depth;
    if (!PyArg_ParseTuple(args, "OiOO", &data, &record_depth, &since, &until)) return NULL;
    PyObject *sc = PyObject_CallFunction((PyObject *)&scanner_type, "iOO", record_depth, since, until);
    if (sc == NULL) return NULL;
    PyObject *fed = PyObject_CallMethod(sc, "feed", "O", data);
    PyObject *result = fed ? PyObject_CallMethod(sc, "finish", NULL) : NULL;
    Py_XDECREF(fed);
    Py_DECREF(sc);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS, "Split a decompressed CloudTrail file into candidate records and counts."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_prefilter", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__prefilter(void) {
    if (PyType_Ready(&scanner_type) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL) return NULL;
    Py_INCREF(&scanner_type);
    if (PyModule_AddObject(m, "Scanner", (PyObject *)&scanner_type) < 0) {
        Py_DECREF(&scanner_type);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
