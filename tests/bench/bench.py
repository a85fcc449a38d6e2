"""Helpers of tests/bench.sh: generate the benchmark's inputs, read moto's request recorder, summarise.

Standard library only; run with any Python 3.
    bench.py port                          a free loopback TCP port
    bench.py gen OUT N                     OUT/pillar.yaml (ocp-aws), OUT/salt/{minion,srv/bench.sls} (peer)
    bench.py record URL start              clear moto's request recording and start recording
    bench.py record URL stop LABEL RESULTS stop, classify what was recorded, append a line to RESULTS
    bench.py salt-check FILE               check a salt-call --out=json result; print "states changed"
    bench.py salt-changes FILE             which settings the changed states of that result rewrote
    bench.py table RESULTS                 the summary table
"""

import base64
import json
import re
import socket
import statistics
import sys
import urllib.parse
import urllib.request
from pathlib import Path

LIFECYCLE_RULE = {"id": "delete-after-30-days", "expire_days": 30, "abort_incomplete_multipart_days": 7}

# Read operations of the query protocol (IAM, STS): everything else is a write.
READ_PREFIXES = ("Get", "List", "Describe", "Head")


def names(i):
    return f"ocp-bench-{i:02d}", f"ocp-bench-{i:02d}-rw", f"ocp-bench-{i:02d}-backup"


def bucket_access(bucket):
    # The same document ocp-aws derives from `bucket_access: <bucket>`.
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
            {
                "Effect": "Allow",
                "Action": ["s3:PutObject", "s3:GetObject", "s3:DeleteObject"],
                "Resource": f"arn:aws:s3:::{bucket}/*",
            },
        ],
    }


def gen(out, n):
    out = Path(out)
    buckets, policies, users = {}, {}, {}
    sls = {}
    for i in range(n):
        bucket, policy, user = names(i)
        buckets[bucket] = {"lifecycle": [dict(LIFECYCLE_RULE)]}
        policies[policy] = {"bucket_access": bucket}
        users[user] = {"policies": [policy]}
        # The peer: the same three resources with saltext-boto3's states. The lifecycle rule is
        # written in the shape S3 returns it, since the state compares the JSON as it is.
        sls[f"bucket {bucket}"] = {
            "boto3_s3_bucket.present": [
                {"Bucket": bucket},
                {
                    "LifecycleConfiguration": [
                        {
                            "ID": LIFECYCLE_RULE["id"],
                            "Status": "Enabled",
                            "Filter": {"Prefix": ""},
                            "Expiration": {"Days": LIFECYCLE_RULE["expire_days"]},
                            "AbortIncompleteMultipartUpload": {
                                "DaysAfterInitiation": LIFECYCLE_RULE["abort_incomplete_multipart_days"]
                            },
                        }
                    ]
                },
            ]
        }
        sls[f"policy {policy}"] = {
            "boto3_iam.policy_present": [
                {"name": policy},
                {"policy_document": bucket_access(bucket)},
                {"require": [{"boto3_s3_bucket": f"bucket {bucket}"}]},
            ]
        }
        sls[f"user {user}"] = {
            "boto3_iam.user_present": [
                {"name": user},
                {"managed_policies": [policy]},
                {"require": [{"boto3_iam": f"policy {policy}"}]},
            ]
        }
    pillar = {"ocp_aws": {"region": "us-east-1", "s3": {"buckets": buckets}, "iam": {"policies": policies, "users": users}}}
    out.mkdir(parents=True, exist_ok=True)
    # JSON is YAML: the file is read as YAML by ocp-aws.
    (out / "pillar.yaml").write_text(json.dumps(pillar, indent=1) + "\n")

    salt = out / "salt"
    (salt / "srv").mkdir(parents=True, exist_ok=True)
    (salt / "pillar").mkdir(parents=True, exist_ok=True)
    (salt / "srv" / "bench.sls").write_text("#!json\n" + json.dumps(sls, indent=1) + "\n")
    minion = {
        "id": "bench",
        "file_client": "local",
        "root_dir": str(salt / "root"),
        "file_roots": {"base": [str(salt / "srv")]},
        "pillar_roots": {"base": [str(salt / "pillar")]},
        "log_level_logfile": "warning",
        # saltext-boto3 reads its default region from these keys; credentials come from the
        # environment (boto3's chain) and the endpoint from AWS_ENDPOINT_URL (see tests/bench.sh).
        "s3.region": "us-east-1",
        "iam.region": "us-east-1",
    }
    (salt / "minion").write_text(json.dumps(minion, indent=1) + "\n")


def post(url):
    urllib.request.urlopen(urllib.request.Request(url, method="POST", data=b""), timeout=10).read()


def classify(entry):
    """(operation, is_write) of one recorded request."""
    method = entry.get("method", "")
    url = urllib.parse.urlsplit(entry.get("url", ""))
    body = entry.get("body") or ""
    if entry.get("body_encoded"):
        body = base64.b64decode(body).decode("utf-8", "replace")
    headers = {k.lower(): v for k, v in (entry.get("headers") or {}).items()}
    scope = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request", headers.get("authorization", ""))
    service = scope.group(1) if scope else ""
    params = urllib.parse.parse_qs(url.query, keep_blank_values=True)
    if "application/x-www-form-urlencoded" in headers.get("content-type", ""):
        params.update(urllib.parse.parse_qs(body, keep_blank_values=True))
    action = (params.get("Action") or [""])[0]
    if action and service != "s3":
        return f"{service or '?'}:{action}", not action.startswith(READ_PREFIXES)
    # S3 (REST): name the request by method and sub-resource, e.g. "GET ?lifecycle".
    sub = sorted(k for k in params if not k.startswith("X-Amz-") and k not in ("prefix", "max-keys", "delimiter"))
    op = f"s3:{method} {'?' + '&'.join(sub) if sub else ('/' if url.path in ('', '/') else '<bucket>')}"
    return op, method not in ("GET", "HEAD")


def record(url, what, label=None, results=None):
    base = url.rstrip("/") + "/moto-api/recorder/"
    if what == "start":
        post(base + "reset-recording")
        post(base + "start-recording")
        return
    post(base + "stop-recording")
    text = urllib.request.urlopen(base + "download-recording", timeout=10).read().decode()
    ops, writes = {}, {}
    total = 0
    for line in text.splitlines():
        if not line.strip():
            continue
        entry = json.loads(line)
        if urllib.parse.urlsplit(entry.get("url", "")).path.startswith("/moto-api/"):
            continue
        op, is_write = classify(entry)
        total += 1
        ops[op] = ops.get(op, 0) + 1
        if is_write:
            writes[op] = writes.get(op, 0) + 1
    with open(results, "a") as f:
        f.write(json.dumps({"kind": "requests", "label": label, "requests": total, "writes": sum(writes.values()), "ops": ops, "write_ops": writes}) + "\n")
    print(f"  requests recorded by moto: {total}, writes: {sum(writes.values())}")
    print("  by operation: " + ", ".join(f"{k} {v}" for k, v in sorted(ops.items(), key=lambda kv: (-kv[1], kv[0]))))
    if writes:
        print("  WRITES: " + ", ".join(f"{k} {v}" for k, v in sorted(writes.items())))


def salt_check(path):
    """Every state succeeded; prints how many reported changes. Exit 1 if any failed."""
    data = json.loads(Path(path).read_text())["local"]
    failed = [k for k, v in data.items() if v.get("result") is not True]
    changed = [k for k, v in data.items() if v.get("changes")]
    for k in failed[:5]:
        print(f"  failed: {k}: {data[k].get('comment')}", file=sys.stderr)
    print(f"{len(data)} {len(changed)}")
    return 1 if failed else 0


def salt_changes(path):
    """Which settings the changed states rewrote, counted over states."""
    data = json.loads(Path(path).read_text())["local"]
    fields = {}
    for key, ret in data.items():
        if not ret.get("changes"):
            continue
        fun = key.split("_|-")[0] + "." + key.split("_|-")[-1]
        for field in ret["changes"].get("new") or {"(other)": None}:
            fields[f"{fun} {field}"] = fields.get(f"{fun} {field}", 0) + 1
    print("  changed settings: " + ", ".join(f"{k} x{v}" for k, v in sorted(fields.items())))


def table(results):
    rows = [json.loads(line) for line in Path(results).read_text().splitlines() if line.strip()]
    times = {r["label"]: r["seconds"] for r in rows if r["kind"] == "times"}
    times_rows = {r["label"]: r for r in rows if r["kind"] == "times"}
    reqs = {r["label"]: r for r in rows if r["kind"] == "requests"}
    labels = [r["label"] for r in rows if r["kind"] == "times"]
    base = statistics.median(times[labels[0]])
    print(f"{'tool (re-apply of 60 unchanged resources)':<44} {'runs':>4} {'median s':>9} {'min s':>7} {'requests':>9} {'writes':>7} {'changed':>8} {'x ocp-aws':>10}")
    for label in labels:
        t = times[label]
        r = reqs.get(label, {})
        med = statistics.median(t)
        print(
            f"{label:<44} {len(t):>4} {med:>9.3f} {min(t):>7.3f} {r.get('requests', '-'):>9} {r.get('writes', '-'):>7}"
            f" {times_rows[label].get('changed', '-'):>8} {(f'{med / base:.1f}x' if 'changed' in times_rows[label] else '-'):>10}"
        )


def main(argv):
    cmd = argv[1]
    if cmd == "port":
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])
        s.close()
    elif cmd == "gen":
        gen(argv[2], int(argv[3]))
    elif cmd == "record":
        record(argv[2], argv[3], *argv[4:6])
    elif cmd == "salt-check":
        return salt_check(argv[2])
    elif cmd == "salt-changes":
        salt_changes(argv[2])
    elif cmd == "table":
        table(argv[2])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
