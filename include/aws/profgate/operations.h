/*
 * operations.h: the CodeGuru Profiler operations besides GetProfile and ListProfileTimes, from
 * the service model (botocore's codeguruprofiler service-2.json): method, path, whether they
 * change anything, and which path parameter names a profiling group (directly, or inside a
 * resource ARN). The gateway routes and authorizes with it; the simulator answers by it.
 */
#ifndef PG_OPERATIONS_H
#define PG_OPERATIONS_H

#include "profgate/apierr.h"
#include "profgate/router.h"

typedef enum {
    PG_OP_ADD_NOTIFICATION_CHANNELS,
    PG_OP_BATCH_GET_FRAME_METRIC_DATA,
    PG_OP_CONFIGURE_AGENT,
    PG_OP_CREATE_PROFILING_GROUP,
    PG_OP_DELETE_PROFILING_GROUP,
    PG_OP_DESCRIBE_PROFILING_GROUP,
    PG_OP_GET_FINDINGS_REPORT_ACCOUNT_SUMMARY,
    PG_OP_GET_NOTIFICATION_CONFIGURATION,
    PG_OP_GET_POLICY,
    PG_OP_GET_RECOMMENDATIONS,
    PG_OP_LIST_FINDINGS_REPORTS,
    PG_OP_LIST_PROFILING_GROUPS,
    PG_OP_LIST_TAGS_FOR_RESOURCE,
    PG_OP_POST_AGENT_PROFILE,
    PG_OP_PUT_PERMISSION,
    PG_OP_REMOVE_NOTIFICATION_CHANNEL,
    PG_OP_REMOVE_PERMISSION,
    PG_OP_SUBMIT_FEEDBACK,
    PG_OP_TAG_RESOURCE,
    PG_OP_UNTAG_RESOURCE,
    PG_OP_UPDATE_PROFILING_GROUP,
    PG_OP_COUNT
} pg_op;

/* Where an operation names its profiling group. */
typedef enum {
    PG_OPG_NONE, /* it names none (lists across groups) */
    PG_OPG_PATH, /* the first path parameter is the group's name */
    PG_OPG_ARN   /* the first path parameter is a resource ARN ending in profilingGroup/NAME */
} pg_op_group;

typedef struct pg_operation {
    const char *name;
    bool write; /* changes something (create, update, delete, permissions, tags, agent data) */
    pg_op_group group;
} pg_operation;

/** Each operation's facts, indexed by pg_op. */
extern const pg_operation pg_operations[PG_OP_COUNT];
/** Each operation's route (method and path pattern), route id = its pg_op. */
extern const pg_route pg_operation_routes[PG_OP_COUNT];

/** The profiling group an ARN names ("arn:PARTITION:codeguru-profiler:REGION:ACCOUNT:profilingGroup/NAME",
 *  already percent-decoded): its name into out (NUL-terminated). PG_EINVAL for any other ARN. */
int pg_arn_group(const char *arn, size_t len, char *out, size_t outlen);

/** The decoded group a request names (op's path parameter), validated like the service does.
 *  PG_EINVAL with err (ValidationException) when it is not a group name or a group ARN. */
int pg_op_group_of(pg_op op, pg_slice raw_param, char *out, size_t outlen, pg_apierr *err);

#endif
