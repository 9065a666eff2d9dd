-- s3plan: S3 server access log rows as CloudTrail-shaped S3 records (Athena / Trino dialect), so that the one
-- evidence query (evidence.sql) reads them: the same mapping planner/sources/access_log.py applies locally.
-- The table is the access-log table `s3plan sql ddl --access-logs` creates (RegexSerDe, every column a string,
-- `-` for empty, the quoted fields with their quotes). s3plan replaces `s3plan_region_host` with
-- access_log.REGION_HOST, `s3plan_event_name` with the operation ->
-- event name mapping of access_log.py and `access_logs` with the table, and adds the window's predicates.
-- Sources: field order and values (s3-migration-facts.md §8), record shape (§5), userIdentity shapes (§5c).
SELECT * FROM (
  SELECT
    's3.amazonaws.com' AS eventsource,
    s3plan_event_name AS eventname,
    'AwsS3AccessLog' AS eventtype,
    -- S3 writes the time in UTC (+0000); a line with another offset gets no time and falls outside every window
    date_format(try(date_parse(requestdatetime, '%d/%b/%Y:%H:%i:%s +0000')), '%Y-%m-%dT%H:%i:%sZ') AS eventtime,
    -- access_log.REGION_HOST: the Region of the endpoint, in any form S3 names one
    NULLIF(regexp_extract(endpoint, s3plan_region_host, 1), '')
      AS awsregion,
    NULLIF(remoteip, '-') AS sourceipaddress,
    NULLIF(CASE WHEN useragent LIKE '"%"' THEN substr(useragent, 2, length(useragent) - 2) ELSE useragent END, '-')
      AS useragent,
    coalesce(
      NULLIF(errorcode, '-'),
      CASE WHEN try_cast(httpstatus AS integer) >= 400 THEN concat('HTTP', httpstatus) END
    ) AS errorcode,
    NULLIF(requestid, '-') AS requestid,
    CAST(NULL AS varchar) AS eventid,
    CAST(ROW(
      CASE
        WHEN requester = '-' THEN 'AWSAccount'
        WHEN requester LIKE 'svc:%' THEN 'AWSService'
        WHEN regexp_like(requester, '^arn:aws[a-z-]*:sts::\d{12}:assumed-role/') THEN 'AssumedRole'
        WHEN regexp_like(requester, '^arn:aws[a-z-]*:iam::\d{12}:user') THEN 'IAMUser'
        WHEN regexp_like(requester, '^arn:aws[a-z-]*:iam::\d{12}:role') THEN 'Role'
        WHEN regexp_like(requester, '^arn:aws[a-z-]*:iam::\d{12}:root') THEN 'Root'
        WHEN requester = bucketowner THEN 'Root'
        WHEN regexp_like(requester, '^[0-9a-f]{64}$') THEN 'CanonicalUser'
        ELSE 'Unknown'
      END,
      CASE
        WHEN requester = '-' THEN ''
        WHEN requester LIKE 'svc:%' OR regexp_like(requester, '^arn:aws[a-z-]*:(sts|iam)::\d{12}:') THEN NULL
        ELSE requester
      END,
      CASE WHEN regexp_like(requester, '^arn:aws[a-z-]*:(sts|iam)::\d{12}:') THEN requester END,
      CASE
        WHEN requester = '-' THEN 'anonymous'
        ELSE NULLIF(regexp_extract(requester, '^arn:aws[a-z-]*:(?:sts|iam)::(\d{12}):', 1), '')
      END,
      CASE WHEN requester LIKE 'svc:%' THEN substr(requester, 5) END,
      ROW(ROW(
        CASE WHEN regexp_like(requester, '^arn:aws[a-z-]*:sts::\d{12}:assumed-role/[^/]+/') THEN 'Role' END,
        -- not the role ARN: an assumed-role ARN drops the role's path (as access_log.py says)
        CAST(NULL AS varchar),
        CASE WHEN regexp_like(requester, '^arn:aws[a-z-]*:sts::\d{12}:assumed-role/[^/]+/')
          THEN regexp_extract(requester, '^arn:aws[a-z-]*:sts::(\d{12}):', 1)
        END
      ))
    ) AS ROW(type varchar, principalid varchar, arn varchar, accountid varchar, invokedby varchar,
             sessioncontext ROW(sessionissuer ROW(type varchar, arn varchar, accountid varchar)))) AS useridentity,
    json_format(CAST(MAP(
      ARRAY['bucketName', 'key', 'prefix', 'versionId', 'x-amz-acl'],
      ARRAY[
        bucket_name,
        -- REST and WEBSITE operations log the key URL-encoded twice, the others once, + for a space
        -- (access_log.decode_key); + is replaced first so every engine reads it alike
        CASE WHEN operation LIKE 'REST.%' OR operation LIKE 'WEBSITE.%'
          THEN coalesce(
            try(url_decode(replace(url_decode(replace(NULLIF(key, '-'), '+', ' ')), '+', ' '))),
            url_decode(replace(NULLIF(key, '-'), '+', ' ')))
          ELSE url_decode(replace(NULLIF(key, '-'), '+', ' '))
        END,
        CASE WHEN operation IN ('REST.GET.BUCKET', 'REST.GET.BUCKETVERSIONS')
          THEN url_decode(NULLIF(regexp_extract(split_part(request_uri, ' ', 2), '[?&]prefix=([^&]*)', 1), ''))
        END,
        NULLIF(versionid, '-'),
        -- S3 refuses with this code only a request that sets an ACL once ACLs are disabled (facts §4b)
        CASE WHEN errorcode = 'AccessControlListNotSupported'
          THEN 'unknown (refused: AccessControlListNotSupported)'
        END
      ]) AS JSON)) AS requestparameters,
    json_format(CAST(MAP(
      ARRAY['SignatureVersion', 'AuthenticationMethod', 'aclRequired', 'CipherSuite'],
      ARRAY[NULLIF(sigv, '-'), NULLIF(authtype, '-'), CASE WHEN aclrequired = 'Yes' THEN 'Yes' END,
            NULLIF(ciphersuite, '-')]
    ) AS JSON)) AS additionaleventdata,
    CAST(NULL AS ARRAY(ROW(arn varchar, accountid varchar, type varchar))) AS resources,
    -- the access logs record every request to the bucket, data-level ones included, and prove readiness when the
    -- line has the Signature Version and aclRequired fields (as access_log.py says); older lines stop before them
    CASE WHEN sigv IS NOT NULL AND aclrequired IS NOT NULL THEN 'Data' ELSE 'AccessLogOlderFormat' END
      AS eventcategory,
    CASE WHEN split_part(operation, '.', 2) IN ('GET', 'HEAD') THEN 'true' ELSE 'false' END AS readonly,
    CAST(NULL AS varchar) AS vpcendpointid  -- the access logs do not record the VPC endpoint
  FROM access_logs
) AS records
WHERE eventname IS NOT NULL
