-- s3plan evidence query (Athena / Trino dialect; run as-is on Athena, transpiled by sqlglot for DuckDB).
--
-- One pass over the CloudTrail table returns aggregated rows, never raw records:
--   kind = 'evidence' : S3 requests that signed with SigV2, needed an ACL (aclRequired = 'Yes'), set an ACL
--                       (PutObjectAcl/PutBucketAcl, x-amz-acl other than bucket-owner-full-control, any
--                       x-amz-grant-* header), or came from outside the bucket owner's account (anonymous
--                       callers and other accounts: the access an ACL may grant, shown as context even when
--                       aclRequired is absent, e.g. in logs older than the field), one row per combination
--                       of the key columns;
--   kind = 's3'       : every other S3 request, collapsed to one row per bucket (for bucket totals);
--   kind = 'other'    : every non-S3 record, one row (so the run can report records scanned).
-- A request that is both SigV2 and aclRequired is one row with both flags. Duplicate deliveries of the
-- same request (same requestid, or eventid when there is none) count once in `requests`.
-- `:prefix_depth` (the key-path segments kept in key prefixes) is replaced by s3plan with a validated integer
-- before the query runs on either engine.
-- Sources: the AWS guide's seed queries (s3-migration-facts.md §7b), aclRequired semantics (§4c),
-- principal shapes (§5c), SignatureVersion/AuthenticationMethod (§5e), bucket owner from resources (§5f).
WITH classified AS (
  SELECT
    eventsource = 's3.amazonaws.com' AS is_s3,
    json_extract_scalar(requestparameters, '$.bucketName') AS bucket,
    element_at(filter(resources, r -> r.type = 'AWS::S3::Bucket'), 1).accountid AS bucket_account_id,
    awsregion AS region,
    -- the ARN partition every ARN of the row is written in: the bucket's own ARN, else the Region's (botocore's
    -- partitions.json regionRegex, as planner/model.py partition_of has it)
    coalesce(
      NULLIF(split_part(element_at(filter(resources, r -> r.type = 'AWS::S3::Bucket'), 1).arn, ':', 2), ''),
      -- no Region either (an access-log line whose endpoint names none): the caller's ARN says it
      CASE WHEN awsregion IS NULL THEN NULLIF(split_part(useridentity.arn, ':', 2), '') END,
      CASE
        WHEN awsregion LIKE 'cn-%' THEN 'aws-cn'
        WHEN awsregion LIKE 'us-gov-%' THEN 'aws-us-gov'
        WHEN awsregion LIKE 'us-iso-%' THEN 'aws-iso'
        WHEN awsregion LIKE 'us-isob-%' THEN 'aws-iso-b'
        WHEN awsregion LIKE 'eu-isoe-%' THEN 'aws-iso-e'
        WHEN awsregion LIKE 'us-isof-%' THEN 'aws-iso-f'
        WHEN awsregion LIKE 'eusc-%' THEN 'aws-eusc'
        ELSE 'aws'
      END
    ) AS arn_partition,
    eventname AS event_name,
    useridentity,
    useragent,
    json_extract_scalar(additionaleventdata, '$.SignatureVersion') AS signature_version,
    json_extract_scalar(additionaleventdata, '$.AuthenticationMethod') AS auth_method,
    -- a cipher suite shows the request came over TLS (facts §5e); its absence proves nothing (an AWS service
    -- calling on the caller's behalf has no TLS details, facts §5)
    json_extract_scalar(additionaleventdata, '$.CipherSuite') AS cipher_suite,
    vpcendpointid AS vpc_endpoint,
    coalesce(json_extract_scalar(additionaleventdata, '$.aclRequired') = 'Yes', false) AS acl_required,
    coalesce(
      json_extract_scalar(requestparameters, '$["x-amz-acl"]'),
      -- a browser POST upload's acl form field (facts §4b: an ACL the request sets)
      -- (a string: DuckDB reads an array or object as its JSON text where Athena's json_extract_scalar gives NULL)
      CASE WHEN eventname = 'PostObject'
        AND substr(json_extract_scalar(requestparameters, '$.acl'), 1, 1) NOT IN ('[', '{')
        THEN NULLIF(json_extract_scalar(requestparameters, '$.acl'), '')
      END
    ) AS canned_acl,
    CASE
      WHEN json_extract_scalar(requestparameters, '$["x-amz-grant-full-control"]') IS NOT NULL THEN 'x-amz-grant-full-control'
      WHEN json_extract_scalar(requestparameters, '$["x-amz-grant-read"]') IS NOT NULL THEN 'x-amz-grant-read'
      WHEN json_extract_scalar(requestparameters, '$["x-amz-grant-read-acp"]') IS NOT NULL THEN 'x-amz-grant-read-acp'
      WHEN json_extract_scalar(requestparameters, '$["x-amz-grant-write"]') IS NOT NULL THEN 'x-amz-grant-write'
      WHEN json_extract_scalar(requestparameters, '$["x-amz-grant-write-acp"]') IS NOT NULL THEN 'x-amz-grant-write-acp'
    END AS grant_header,
    -- the object key, or for listings the prefix listed ('' for the whole bucket)
    coalesce(
      json_extract_scalar(requestparameters, '$.key'),
      CASE WHEN eventname IN ('ListObjects', 'ListObjectsV2', 'ListObjectVersions')
        THEN coalesce(json_extract_scalar(requestparameters, '$.prefix'), '')
      END
    ) AS object_key,
    json_extract_scalar(requestparameters, '$.versionId') IS NOT NULL AS versioned,
    -- request headers that need actions of their own (rules/acl/actions.yaml `headers`), in a fixed order
    NULLIF(concat_ws(',',
      CASE WHEN json_extract_scalar(requestparameters, '$["x-amz-bypass-governance-retention"]') IS NOT NULL
        THEN 'x-amz-bypass-governance-retention' END,
      CASE WHEN json_extract_scalar(requestparameters, '$["x-amz-object-lock-legal-hold"]') IS NOT NULL
        THEN 'x-amz-object-lock-legal-hold' END,
      CASE WHEN json_extract_scalar(requestparameters, '$["x-amz-object-lock-mode"]') IS NOT NULL
        THEN 'x-amz-object-lock-mode' END,
      CASE WHEN json_extract_scalar(requestparameters, '$["x-amz-tagging"]') IS NOT NULL THEN 'x-amz-tagging' END
    ), '') AS request_headers,
    -- the bucket a copy reads from (x-amz-copy-source is "bucket/key", with or without a leading /)
    CASE WHEN eventname IN ('CopyObject', 'UploadPartCopy')
      THEN NULLIF(split_part(ltrim(json_extract_scalar(requestparameters, '$["x-amz-copy-source"]'), '/'), '/', 1), '')
    END AS copy_source,
    coalesce(requestid, eventid) AS request_key,
    -- S3 server access log lines that s3plan turned into records of this shape carry this eventtype
    CASE WHEN eventtype = 'AwsS3AccessLog' THEN 1 ELSE 0 END AS from_access_log,
    -- an S3 data event (facts §5b): eventCategory 'Data' (eventVersion 1.07 and later); in older records, an
    -- object-level operation, which CloudTrail logs only as a data event. Readiness needs them: CloudTrail logs
    -- management events by default and data events only where a trail's selectors ask for them.
    coalesce(eventcategory = 'Data', eventname IN (
      'AbortMultipartUpload', 'CompleteMultipartUpload', 'CopyObject', 'CreateMultipartUpload', 'DeleteObject',
      'DeleteObjects', 'GetObject', 'GetObjectAcl', 'GetObjectAttributes', 'GetObjectTagging', 'HeadObject',
      'ListParts', 'PostObject', 'PutObject', 'PutObjectAcl', 'PutObjectTagging', 'RestoreObject', 'UploadPart',
      'UploadPartCopy'
    )) AS is_data,
    coalesce(readonly = 'true', eventname LIKE 'Get%' OR eventname LIKE 'Head%' OR eventname LIKE 'List%') AS is_read,
    errorcode,
    sourceipaddress,
    eventtime
  FROM cloudtrail
),
flagged AS (
  SELECT
    *,
    coalesce(is_s3 AND (
      signature_version = 'SigV2'
      OR acl_required
      OR event_name IN ('PutObjectAcl', 'PutBucketAcl')
      OR (canned_acl IS NOT NULL AND canned_acl <> 'bucket-owner-full-control')
      OR grant_header IS NOT NULL
      -- callers from outside the bucket owner's account, as the bucket owner's trail records them (facts §5c)
      OR coalesce(useridentity.accountid IN ('anonymous', 'ANONYMOUS_PRINCIPAL'), false)
      OR coalesce(useridentity.type = 'AWSAccount', false)
    ), false) AS is_evidence
  FROM classified
),
identified AS (
  SELECT
    *,
    CASE WHEN is_evidence THEN
      CASE
        WHEN useridentity.accountid IN ('anonymous', 'ANONYMOUS_PRINCIPAL') THEN 'anonymous'
        WHEN useridentity.type = 'AssumedRole' AND useridentity.sessioncontext.sessionissuer.arn IS NOT NULL
          THEN useridentity.sessioncontext.sessionissuer.arn
        -- a session whose role ARN is not in the record (the server access logs name the session only, and an
        -- assumed-role ARN drops the role's path): the session without its name, arn:P:sts::ACCT:assumed-role/NAME
        WHEN useridentity.type = 'AssumedRole' AND useridentity.arn LIKE 'arn:%:sts::%:assumed-role/%/%'
          THEN concat(split_part(useridentity.arn, '/', 1), '/', split_part(useridentity.arn, '/', 2))
        WHEN useridentity.type = 'AWSService' THEN coalesce(useridentity.invokedby, sourceipaddress)
        WHEN useridentity.type = 'AWSAccount' THEN concat('arn:', arn_partition, ':iam::', useridentity.accountid, ':root')
        ELSE coalesce(useridentity.arn, useridentity.principalid)
      END
    END AS caller
  FROM flagged
),
-- Role ARNs the evidence names with their path (CloudTrail's sessionIssuer), by account and role name, where one
-- ARN is the only one with that name (role names are unique in an account): a session named only by role name is
-- that role (IAM Identity Center roles live under aws-reserved/sso.amazonaws.com/[region/]).
roles AS (
  SELECT useridentity.accountid AS role_account, element_at(split(caller, '/'), -1) AS role_name,
         min(caller) AS role_arn
  FROM identified
  WHERE caller LIKE 'arn:%:iam::%:role/%'
  GROUP BY useridentity.accountid, element_at(split(caller, '/'), -1)
  HAVING min(caller) = max(caller)
),
requests AS (
  SELECT
    CASE WHEN is_evidence THEN 'evidence' WHEN is_s3 THEN 's3' ELSE 'other' END AS kind,
    CASE WHEN is_s3 THEN bucket END AS bucket,
    CASE WHEN is_s3 THEN bucket_account_id END AS bucket_account_id,
    CASE WHEN is_s3 THEN arn_partition END AS arn_partition,
    CASE WHEN is_evidence THEN region END AS region,
    CASE WHEN is_evidence THEN event_name END AS event_name,
    CASE WHEN is_evidence THEN coalesce(role_arn, caller, 'unknown') END AS principal,
    CASE WHEN NOT is_evidence THEN NULL
      WHEN useridentity.accountid IN ('anonymous', 'ANONYMOUS_PRINCIPAL') THEN 'anonymous'
      ELSE coalesce(useridentity.type, 'Unknown')
    END AS principal_type,
    CASE WHEN NOT is_evidence OR useridentity.accountid IN ('anonymous', 'ANONYMOUS_PRINCIPAL') THEN NULL
      ELSE useridentity.accountid
    END AS account_id,
    CASE WHEN NOT is_evidence THEN NULL
      WHEN useragent LIKE '[%]' THEN substr(useragent, 2, length(useragent) - 2)
      ELSE useragent
    END AS user_agent,
    CASE WHEN is_evidence THEN signature_version END AS signature_version,
    CASE WHEN is_evidence THEN auth_method END AS auth_method,
    is_evidence AND acl_required AS acl_required,
    CASE WHEN is_evidence THEN coalesce(canned_acl, grant_header) END AS acl_header,
    CASE WHEN is_evidence AND useridentity.type = 'AssumedRole'
      THEN split_part(useridentity.arn, '/', 3)
    END AS session_name,
    -- the key up to its :prefix_depth-th '/' (the prefix a statement's resource uses), or the whole key
    CASE WHEN is_evidence AND object_key IS NOT NULL
      THEN CASE WHEN cardinality(split(object_key, '/')) > :prefix_depth
        THEN array_join(slice(split(object_key, '/'), 1, :prefix_depth), '/') || '/'
        ELSE object_key
      END
    END AS key_prefix,
    is_evidence AND versioned AS versioned,
    CASE WHEN is_evidence THEN request_headers END AS request_headers,
    CASE WHEN is_evidence THEN copy_source END AS copy_source,
    CASE WHEN is_evidence THEN object_key END AS object_key,
    CASE WHEN is_evidence AND signature_version = 'SigV2' THEN substr(eventtime, 1, 10) END AS sigv2_day,
    CASE WHEN is_evidence THEN request_key END AS request_key,
    CASE WHEN is_evidence THEN sourceipaddress END AS source_ip,
    from_access_log,
    CASE WHEN is_s3 AND is_data AND is_read THEN 1 ELSE 0 END AS data_read,
    CASE WHEN is_evidence AND cipher_suite IS NOT NULL THEN 1 ELSE 0 END AS over_tls,
    CASE WHEN is_evidence THEN vpc_endpoint END AS vpc_endpoint,
    CASE WHEN is_s3 AND is_data AND NOT is_read THEN 1 ELSE 0 END AS data_write,
    errorcode,
    eventtime
  FROM identified
  LEFT JOIN roles
    ON caller LIKE 'arn:%:sts::%:assumed-role/%' AND role_account = useridentity.accountid
    AND role_name = split_part(caller, '/', 2)
),
-- A request that both CloudTrail and the access logs recorded (same request id) counts once, as CloudTrail saw
-- it; each row remembers which sources saw its request. Only evidence rows have a request key.
deduped AS (
  SELECT *, 1 - from_access_log AS seen_cloudtrail, from_access_log AS seen_access_log
  FROM requests WHERE request_key IS NULL
  UNION ALL
  SELECT * FROM (
    SELECT *,
      max(1 - from_access_log) OVER (PARTITION BY request_key) AS seen_cloudtrail,
      max(from_access_log) OVER (PARTITION BY request_key) AS seen_access_log
    FROM requests WHERE request_key IS NOT NULL
  ) WHERE from_access_log = 0 OR seen_cloudtrail = 0
),
-- Two steps instead of DISTINCT aggregates over every record: first one row per request (duplicate deliveries
-- fold together; every other S3 or non-S3 record has no request key and folds into its bucket's row), then the
-- evidence rows with their samples, over the few rows left.
per_request AS (
  SELECT
    kind, bucket, bucket_account_id, arn_partition, region, event_name, principal, principal_type, account_id,
    user_agent, signature_version, auth_method, acl_required, acl_header, versioned, request_headers, request_key,
    count(*) AS records,
    sum(from_access_log) AS access_log_records,
    count(errorcode) AS errors,
    min(eventtime) AS first_seen,
    max(eventtime) AS last_seen,
    arbitrary(source_ip) AS source_ip,
    arbitrary(session_name) AS session_name,
    arbitrary(key_prefix) AS key_prefix,
    arbitrary(object_key) AS object_key,
    arbitrary(copy_source) AS copy_source,
    arbitrary(sigv2_day) AS sigv2_day,
    max(seen_cloudtrail) AS seen_cloudtrail,
    max(seen_access_log) AS seen_access_log,
    min(CASE WHEN errorcode IS NOT NULL THEN eventtime END) AS first_error,
    max(CASE WHEN errorcode IS NOT NULL THEN eventtime END) AS last_error,
    min(errorcode) AS error_code,
    sum(data_read) AS data_reads,
    sum(over_tls) AS tls_records,
    -- the VPC endpoint every record of the request came through (NULL: none, several, or not recorded)
    CASE WHEN min(vpc_endpoint) = max(vpc_endpoint) AND count(vpc_endpoint) = count(*) THEN min(vpc_endpoint) END
      AS vpc_endpoint,
    sum(data_write) AS data_writes
  FROM deduped
  GROUP BY
    kind, bucket, bucket_account_id, arn_partition, region, event_name, principal, principal_type, account_id,
    user_agent, signature_version, auth_method, acl_required, acl_header, versioned, request_headers, request_key
)
SELECT
  kind, bucket, bucket_account_id, arn_partition, region, event_name, principal, principal_type, account_id,
  user_agent, signature_version, auth_method, acl_required, acl_header, request_headers,
  sum(records) AS records,
  -- of `records`, the access-log lines: bucket totals take CloudTrail's count where it saw the bucket
  sum(access_log_records) AS access_log_records,
  -- a request without requestID and eventID still counts, once per record
  sum(CASE WHEN request_key IS NOT NULL THEN 1 WHEN kind = 'evidence' THEN records ELSE 0 END) AS requests,
  sum(CASE WHEN request_key IS NULL THEN errors WHEN errors > 0 THEN 1 ELSE 0 END) AS errors,
  min(first_seen) AS first_seen,
  max(last_seen) AS last_seen,
  slice(array_sort(array_distinct(array_agg(source_ip) FILTER (WHERE source_ip IS NOT NULL))), 1, 5) AS source_ips,
  -- how many source IPs there were in all: the replay proves aws:SourceIp conditions only when all are sampled
  count(DISTINCT source_ip) AS source_ip_count,
  slice(array_sort(array_distinct(array_agg(session_name) FILTER (WHERE session_name IS NOT NULL))), 1, 5) AS session_names,
  slice(array_sort(array_distinct(array_agg(key_prefix) FILTER (WHERE key_prefix IS NOT NULL))), 1, 50) AS key_prefixes,
  cardinality(array_distinct(array_agg(key_prefix) FILTER (WHERE key_prefix IS NOT NULL))) AS key_prefix_count,
  -- requests that named a versionId form rows of their own (they need other actions: rules/acl/actions.yaml)
  sum(CASE WHEN NOT versioned THEN 0 WHEN request_key IS NOT NULL THEN 1 ELSE records END) AS versioned_requests,
  approx_distinct(object_key) AS key_count,
  slice(array_sort(array_distinct(array_agg(copy_source) FILTER (WHERE copy_source IS NOT NULL))), 1, 5)
    AS copy_sources,
  histogram(sigv2_day) AS sigv2_days,
  sum(seen_cloudtrail) AS cloudtrail_requests,
  sum(seen_access_log) AS access_log_requests,
  min(first_error) AS first_error,
  max(last_error) AS last_error,
  slice(array_sort(array_distinct(array_agg(error_code) FILTER (WHERE error_code IS NOT NULL))), 1, 5) AS error_codes,
  -- S3 data events (reads and writes) behind the row: a delivered-twice request counts once, others per record
  sum(CASE WHEN request_key IS NULL THEN data_reads WHEN data_reads > 0 THEN 1 ELSE 0 END) AS data_reads,
  sum(CASE WHEN request_key IS NULL THEN data_writes WHEN data_writes > 0 THEN 1 ELSE 0 END) AS data_writes,
  -- of `requests`, those that came over TLS (aws:SecureTransport true); the rest may or may not have
  sum(CASE WHEN request_key IS NULL THEN tls_records WHEN tls_records > 0 THEN 1 ELSE 0 END) AS tls_requests,
  -- the VPC endpoint (aws:SourceVpce) every request of the row came through, else NULL
  CASE WHEN min(vpc_endpoint) = max(vpc_endpoint) AND count(vpc_endpoint) = count(*) THEN min(vpc_endpoint) END
    AS vpc_endpoint,
  -- the depth key_prefixes were cut at: a value ending in / with fewer segments is a whole key (a folder object)
  :prefix_depth AS prefix_depth
FROM per_request
GROUP BY
  kind, bucket, bucket_account_id, arn_partition, region, event_name, principal, principal_type, account_id,
  user_agent, signature_version, auth_method, acl_required, acl_header, versioned, request_headers
