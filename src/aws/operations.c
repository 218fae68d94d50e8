/*
 * operations.c: the table of the service's other operations (see operations.h). One row per
 * operation in each of the two arrays, in pg_op order; test_operations checks they agree.
 */
#include "profgate/operations.h"
#include "profgate/getprofile_req.h"

#include <string.h>

#define OP(id, name, write, group) [id] = {name, write, group}
const pg_operation pg_operations[PG_OP_COUNT] = {
    OP(PG_OP_ADD_NOTIFICATION_CHANNELS, "AddNotificationChannels", true, PG_OPG_PATH),
    OP(PG_OP_BATCH_GET_FRAME_METRIC_DATA, "BatchGetFrameMetricData", false, PG_OPG_PATH),
    OP(PG_OP_CONFIGURE_AGENT, "ConfigureAgent", true, PG_OPG_PATH),
    OP(PG_OP_CREATE_PROFILING_GROUP, "CreateProfilingGroup", true, PG_OPG_NONE),
    OP(PG_OP_DELETE_PROFILING_GROUP, "DeleteProfilingGroup", true, PG_OPG_PATH),
    OP(PG_OP_DESCRIBE_PROFILING_GROUP, "DescribeProfilingGroup", false, PG_OPG_PATH),
    OP(PG_OP_GET_FINDINGS_REPORT_ACCOUNT_SUMMARY, "GetFindingsReportAccountSummary", false, PG_OPG_NONE),
    OP(PG_OP_GET_NOTIFICATION_CONFIGURATION, "GetNotificationConfiguration", false, PG_OPG_PATH),
    OP(PG_OP_GET_POLICY, "GetPolicy", false, PG_OPG_PATH),
    OP(PG_OP_GET_RECOMMENDATIONS, "GetRecommendations", false, PG_OPG_PATH),
    OP(PG_OP_LIST_FINDINGS_REPORTS, "ListFindingsReports", false, PG_OPG_PATH),
    OP(PG_OP_LIST_PROFILING_GROUPS, "ListProfilingGroups", false, PG_OPG_NONE),
    OP(PG_OP_LIST_TAGS_FOR_RESOURCE, "ListTagsForResource", false, PG_OPG_ARN),
    OP(PG_OP_POST_AGENT_PROFILE, "PostAgentProfile", true, PG_OPG_PATH),
    OP(PG_OP_PUT_PERMISSION, "PutPermission", true, PG_OPG_PATH),
    OP(PG_OP_REMOVE_NOTIFICATION_CHANNEL, "RemoveNotificationChannel", true, PG_OPG_PATH),
    OP(PG_OP_REMOVE_PERMISSION, "RemovePermission", true, PG_OPG_PATH),
    OP(PG_OP_SUBMIT_FEEDBACK, "SubmitFeedback", true, PG_OPG_PATH),
    OP(PG_OP_TAG_RESOURCE, "TagResource", true, PG_OPG_ARN),
    OP(PG_OP_UNTAG_RESOURCE, "UntagResource", true, PG_OPG_ARN),
    OP(PG_OP_UPDATE_PROFILING_GROUP, "UpdateProfilingGroup", true, PG_OPG_PATH),
};

/* Methods and paths exactly as the model's requestUri ("{name}" becomes "{}"). */
const pg_route pg_operation_routes[PG_OP_COUNT] = {
    {PG_OP_ADD_NOTIFICATION_CHANNELS, "POST", "/profilingGroups/{}/notificationConfiguration"},
    {PG_OP_BATCH_GET_FRAME_METRIC_DATA, "POST", "/profilingGroups/{}/frames/-/metrics"},
    {PG_OP_CONFIGURE_AGENT, "POST", "/profilingGroups/{}/configureAgent"},
    {PG_OP_CREATE_PROFILING_GROUP, "POST", "/profilingGroups"},
    {PG_OP_DELETE_PROFILING_GROUP, "DELETE", "/profilingGroups/{}"},
    {PG_OP_DESCRIBE_PROFILING_GROUP, "GET", "/profilingGroups/{}"},
    {PG_OP_GET_FINDINGS_REPORT_ACCOUNT_SUMMARY, "GET", "/internal/findingsReports"},
    {PG_OP_GET_NOTIFICATION_CONFIGURATION, "GET", "/profilingGroups/{}/notificationConfiguration"},
    {PG_OP_GET_POLICY, "GET", "/profilingGroups/{}/policy"},
    {PG_OP_GET_RECOMMENDATIONS, "GET", "/internal/profilingGroups/{}/recommendations"},
    {PG_OP_LIST_FINDINGS_REPORTS, "GET", "/internal/profilingGroups/{}/findingsReports"},
    {PG_OP_LIST_PROFILING_GROUPS, "GET", "/profilingGroups"},
    {PG_OP_LIST_TAGS_FOR_RESOURCE, "GET", "/tags/{}"},
    {PG_OP_POST_AGENT_PROFILE, "POST", "/profilingGroups/{}/agentProfile"},
    {PG_OP_PUT_PERMISSION, "PUT", "/profilingGroups/{}/policy/{}"},
    {PG_OP_REMOVE_NOTIFICATION_CHANNEL, "DELETE", "/profilingGroups/{}/notificationConfiguration/{}"},
    {PG_OP_REMOVE_PERMISSION, "DELETE", "/profilingGroups/{}/policy/{}"},
    {PG_OP_SUBMIT_FEEDBACK, "POST", "/internal/profilingGroups/{}/anomalies/{}/feedback"},
    {PG_OP_TAG_RESOURCE, "POST", "/tags/{}"},
    {PG_OP_UNTAG_RESOURCE, "DELETE", "/tags/{}"},
    {PG_OP_UPDATE_PROFILING_GROUP, "PUT", "/profilingGroups/{}"},
};

int pg_arn_group(const char *arn, size_t len, char *out, size_t outlen)
{
    /* arn:PARTITION:codeguru-profiler:REGION:ACCOUNT:profilingGroup/NAME */
    const char *p = arn, *end = arn + len;
    static const char *const want[] = {"arn", NULL, "codeguru-profiler", NULL, NULL};
    for (size_t i = 0; i < 5; i++) {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        if (colon == NULL)
            return PG_EINVAL;
        if (want[i] != NULL && ((size_t)(colon - p) != strlen(want[i]) || memcmp(p, want[i], strlen(want[i])) != 0))
            return PG_EINVAL;
        p = colon + 1;
    }
    static const char res[] = "profilingGroup/";
    size_t rl = sizeof res - 1;
    if ((size_t)(end - p) <= rl || memcmp(p, res, rl) != 0)
        return PG_EINVAL;
    p += rl;
    size_t n = (size_t)(end - p);
    pg_apierr e;
    if (n >= outlen || pg_group_validate(p, n, &e) != PG_OK)
        return PG_EINVAL;
    memcpy(out, p, n);
    out[n] = '\0';
    return PG_OK;
}

int pg_op_group_of(pg_op op, pg_slice raw, char *out, size_t outlen, pg_apierr *err)
{
    PG_ASSERT(op < PG_OP_COUNT && pg_operations[op].group != PG_OPG_NONE);
    char dec[1024];
    size_t n;
    if (raw.len >= sizeof dec || pg_pct_decode(raw, dec, &n) != PG_OK) {
        pg_apierr_set(err, PG_AE_VALIDATION, "The resource in the path is not valid");
        return PG_EINVAL;
    }
    if (pg_operations[op].group == PG_OPG_ARN) {
        if (pg_arn_group(dec, n, out, outlen) != PG_OK) {
            pg_apierr_set(err, PG_AE_VALIDATION, "resourceArn must be the ARN of a profiling group");
            return PG_EINVAL;
        }
        return PG_OK;
    }
    if (n >= outlen || pg_group_validate(dec, n, err) != PG_OK) {
        if (n >= outlen)
            pg_apierr_set(err, PG_AE_VALIDATION, "profilingGroupName is too long");
        return PG_EINVAL;
    }
    memcpy(out, dec, n);
    out[n] = '\0';
    return PG_OK;
}
