/*
 * s3plan's CloudTrail pre-filter: one pass over a decompressed log file, in C.
 *
 * It splits the file into records and reads a handful of fields of each one. Records that could be evidence
 * (a superset of what templates/sql/evidence.sql keeps) are copied out as newline-delimited JSON for the engine,
 * which runs the same SQL on them. Every other record is only counted: per bucket (S3 records) or as "other"
 * (non-S3 records), with first/last eventTime, inside the window. Anything unexpected (a structural error, an
 * escape sequence in a field it reads, a repeated key, a non-string where a string belongs) makes the record a
 * candidate or, for structural errors, makes the whole file fall back to the engine: never a guess.
 *
 * scan(data, record_depth, since, until) -> None | (candidates: bytes, records: int, groups: list)
 *   record_depth: nesting depth at which records open (0: one per line, 1: JSON array, 2: {"Records": [...]})
 *   since/until: ISO-8601 bounds as str or None (eventTime >= since and eventTime < until)
 *   groups: [(is_s3: bool, bucket: str | None, count: int, first: str | None, last: str | None, owner: str | None)]
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_DEPTH 64
#define TIME_MAX 40
#define OWNER_MAX 40

typedef struct { const char *p; Py_ssize_t n; } str_t;      /* raw bytes of a string value, n < 0: absent */

/* The keys the engine declares (planner/sources/engine.py RECORD_COLUMNS and the query's JSON keys): the
 * engine refuses a record that repeats one of them, so a repeat makes the record a candidate. */
enum key_id {
    K_NONE = 0, K_EVENT_TIME, K_EVENT_SOURCE, K_EVENT_NAME, K_REQUEST_PARAMETERS, K_ADDITIONAL, K_RESOURCES,
    K_USER_IDENTITY, K_BUCKET_NAME, K_TYPE, K_ACCOUNT_ID, K_SIGNATURE_VERSION, K_ACL_REQUIRED, K_X_AMZ_ACL,
    K_X_AMZ_GRANT,
    K_AWS_REGION, K_SOURCE_IP, K_USER_AGENT, K_ERROR_CODE, K_REQUEST_ID, K_EVENT_ID, K_RECIPIENT,
    K_KEY, K_PREFIX, K_VERSION_ID, K_AUTH_METHOD, K_PRINCIPAL_ID, K_ARN, K_INVOKED_BY, K_SESSION_CONTEXT, K_SESSION_ISSUER,
    K_OTHER
};

typedef struct {
    str_t event_time, event_source, event_name, bucket, id_type, id_account, sigv, owner;
    str_t res_type, res_account;                               /* the current resources[] element */
    int candidate;                                             /* 1: send the record to the engine */
    unsigned seen;                                             /* bit per captured field, to spot repeats */
} record_t;

typedef struct {
    char *bucket; Py_ssize_t bucket_len; int has_bucket; int is_s3;
    long long count;
    char first[TIME_MAX], last[TIME_MAX]; int has_time;
    char owner[OWNER_MAX]; Py_ssize_t owner_len; int has_owner;
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
        if (key_is(p, n, "sourceIPAddress")) return K_SOURCE_IP;
        if (key_is(p, n, "userAgent")) return K_USER_AGENT;
        if (key_is(p, n, "errorCode")) return K_ERROR_CODE;
        if (key_is(p, n, "requestID")) return K_REQUEST_ID;
        if (key_is(p, n, "eventID")) return K_EVENT_ID;
        if (key_is(p, n, "recipientAccountId")) return K_RECIPIENT;
        return K_OTHER;
    }
    switch (parent) {
    case K_REQUEST_PARAMETERS:
        if (key_is(p, n, "bucketName")) return K_BUCKET_NAME;
        if (key_is(p, n, "key") || key_is(p, n, "prefix") || key_is(p, n, "versionId")) return K_KEY_LIKE(p, n);
        if (key_is(p, n, "x-amz-acl")) return K_X_AMZ_ACL;
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
    } else if (rel_depth == 2 && parent == K_REQUEST_PARAMETERS && key == K_X_AMZ_ACL) {
        /* bucket-owner-full-control is still accepted once ACLs are disabled: only another value is evidence */
        if (escaped || !key_is(p, n, "bucket-owner-full-control")) r->candidate = 1;
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

/* A non-string, non-container value (number, true, false, null) under a key. */
/* A number or boolean under a key the engine declares: the engine converts or refuses it, so it judges. */
static void on_scalar_value(record_t *r, enum key_id key) {
    if (key != K_OTHER && key != K_NONE) r->candidate = 1;
}

static int str_eq(str_t s, const char *lit) { return s.n >= 0 && key_is(s.p, s.n, lit); }

/* Whether the record might be evidence: a superset of the SQL's is_evidence, for S3 records. */
static void judge(record_t *r) {
    if (r->event_time.n >= TIME_MAX || r->owner.n >= OWNER_MAX) r->candidate = 1;  /* too long to keep here */
    if (r->candidate || !str_eq(r->event_source, "s3.amazonaws.com")) return;
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

/* Index of the closing quote of the string that opens at s[i], or -1 when the data ends first. */
static Py_ssize_t string_end(const char *s, Py_ssize_t n, Py_ssize_t i) {
    Py_ssize_t j = i + 1;
    for (;;) {
        const char *q = j < n ? memchr(s + j, '"', (size_t)(n - j)) : NULL;
        if (q == NULL) return -1;
        Py_ssize_t k = q - s, b = k;
        while (b > i + 1 && s[b - 1] == '\\') b--;
        if (((k - b) & 1) == 0) return k;                     /* an even run of backslashes: a real quote */
        j = k + 1;
    }
}

/* Any byte below 0x20, eight bytes at a time. */
static int has_control(const char *p, Py_ssize_t n) {
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t x;
        memcpy(&x, p + i, 8);
        if ((x - 0x2020202020202020ULL) & ~x & 0x8080808080808080ULL) {
            for (int k = 0; k < 8; k++) if ((unsigned char)p[i + k] < 0x20) return 1;
        }
    }
    for (; i < n; i++) if ((unsigned char)p[i] < 0x20) return 1;
    return 0;
}

static int has_backslash(const char *p, Py_ssize_t n) { return n > 0 && memchr(p, '\\', (size_t)n) != NULL; }

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
            "(ONLNNN)", g->is_s3 ? Py_True : Py_False, text_or_none(g->has_bucket, g->bucket, g->bucket_len),
            g->count, text_or_none(g->has_time, g->first, (Py_ssize_t)strlen(g->first)),
            text_or_none(g->has_time, g->last, (Py_ssize_t)strlen(g->last)),
            text_or_none(g->has_owner, g->owner, g->owner_len));
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
    case K_OTHER: case K_NONE:
        return 1;
    default:
        return 0;                                             /* a container where a string belongs */
    }
}

static void record_reset(record_t *r) {
    memset(r, 0, sizeof *r);
    r->event_time.n = r->event_source.n = r->event_name.n = r->bucket.n = -1;
    r->id_type.n = r->id_account.n = r->sigv.n = r->owner.n = -1;
    r->res_type.n = r->res_account.n = -1;
}

static PyObject *scan(PyObject *self, PyObject *args) {
    Py_buffer view;
    int record_depth;
    PyObject *since_obj, *until_obj;
    if (!PyArg_ParseTuple(args, "y*iOO", &view, &record_depth, &since_obj, &until_obj)) return NULL;
    if (record_depth < 0 || record_depth > 2) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "record_depth must be 0, 1 or 2");
        return NULL;
    }
    str_t since, until;
    if (optional_str(since_obj, &since) < 0 || optional_str(until_obj, &until) < 0) {
        PyBuffer_Release(&view);
        return NULL;
    }
    const char *s = view.buf;
    Py_ssize_t n = view.len;
    table_t table = {NULL, 0, 0};
    out_t out = {NULL, 0, 0};
    long long records = 0;
    int depth = 0, ok = 1, nomem = 0, records_keys = 0, in_records = record_depth != 2;
    enum key_id keys[MAX_DEPTH + 2];                          /* last key seen, by depth relative to the record */
    uint64_t seen_keys[MAX_DEPTH + 2];                        /* classified keys seen in the open object */
    char is_obj[MAX_DEPTH + 2], state[MAX_DEPTH + 2];         /* by absolute depth */
    memset(keys, 0, sizeof keys);
    memset(seen_keys, 0, sizeof seen_keys);
    memset(is_obj, 0, sizeof is_obj);
    state[0] = record_depth == 0 ? ST_TOP_MANY : ST_TOP_ONE;
    record_t rec;
    memset(&rec, 0, sizeof rec);
    Py_ssize_t rec_start = -1;

    Py_BEGIN_ALLOW_THREADS
    Py_ssize_t i = 0;
    while (ok && (i = skip_ws(s, n, i)) < n) {
        char c = s[i];
        int rel = depth - record_depth;                       /* depth relative to the record, when inside one */
        if (c == '{' || c == '[') {
            if (!begin_value(state, depth)) { ok = 0; break; }
            if (depth == record_depth) {
                if (c != '{' || !in_records) { ok = 0; break; }
                record_reset(&rec);
                rec_start = i;
            } else if (rel >= 1 && !container_fits(keys[rel], c)) {
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
            if (rel == 3 && keys[1] == K_RESOURCES && c == '}' && rec.owner.n < 0
                && str_eq(rec.res_type, "AWS::S3::Bucket")) {
                rec.owner = rec.res_account;
            }
            depth--;
            i++;
            if (depth == record_depth && rec_start >= 0) {
                judge(&rec);
                if (rec.candidate) {
                    if (out_append_record(&out, s + rec_start, i - rec_start) < 0) { nomem = 1; ok = 0; break; }
                } else if (count_record(&table, &rec, since, until) < 0) { nomem = 1; ok = 0; break; }
                records++;
                rec_start = -1;
            }
        } else if (c == '"') {
            Py_ssize_t end = string_end(s, n, i);
            if (end < 0) { ok = 0; break; }
            const char *p = s + i + 1;
            Py_ssize_t len = end - i - 1;
            if (has_control(p, len)) { ok = 0; break; }      /* raw control characters are not JSON */
            int want_key = depth > 0 && (state[depth] == ST_KEY_OR_END || state[depth] == ST_KEY);
            if (want_key) {
                Py_ssize_t after = skip_ws(s, n, end + 1);
                if (after >= n || s[after] != ':') { ok = 0; break; }
                state[depth] = ST_VALUE;
                if (depth == 1 && record_depth == 2) {
                    in_records = key_is(p, len, "Records");
                    if (in_records && ++records_keys > 1) { ok = 0; break; }
                }
                if (rel >= 1) {
                    enum key_id k = classify_key(p, len, rel, rel >= 2 ? keys[rel - 1] : K_NONE,
                                                 rel >= 3 ? keys[rel - 2] : K_NONE);
                    if (rel <= 3 && has_backslash(p, len)) rec.candidate = 1;  /* might be a key we read */
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
                if (rel >= 1 && keys[rel] != K_OTHER) {
                    on_string_value(&rec, p, len, has_backslash(p, len), rel, keys[rel],
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
            if (!valid_scalar(s + i, j - i)) { ok = 0; break; }
            if (rel >= 1 && !(j - i == 4 && memcmp(s + i, "null", 4) == 0)) on_scalar_value(&rec, keys[rel]);
            i = j;
        }
    }
    if (depth != 0 || rec_start >= 0) ok = 0;
    Py_END_ALLOW_THREADS

    PyBuffer_Release(&view);
    PyObject *result = NULL;
    if (nomem) {
        PyErr_NoMemory();
    } else if (!ok) {
        result = Py_None;
        Py_INCREF(result);
    } else {
        PyObject *groups = groups_to_list(&table);
        PyObject *cands = groups ? PyBytes_FromStringAndSize(out.buf ? out.buf : "", (Py_ssize_t)out.len) : NULL;
        if (groups && cands) result = Py_BuildValue("(NLN)", cands, records, groups);
        else { Py_XDECREF(groups); Py_XDECREF(cands); }
    }
    table_free(&table);
    PyMem_RawFree(out.buf);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_VARARGS, "Split a decompressed CloudTrail file into candidate records and counts."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_prefilter", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__prefilter(void) { return PyModule_Create(&module); }
