"""
End to end through `salt-call --local`: an email address verified by receiving its mail in S3
(`verify_via_s3`, with the Pillar's `nameservers`), then `ocp_aws.dmarc_check` on a message sent to
it. The moto server stores the mail and serves the verification link; a small DNS server on
127.0.0.1 answers the address's MX.
"""

import json
import socket
import struct
import threading
import urllib.request


def _dns_server(domain, exchange):
    """Answer MX queries for ``domain`` with ``exchange`` (and nothing else) on a UDP port of 127.0.0.1."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))

    def encode(name):
        return b"".join(bytes([len(label)]) + label.encode() for label in name.strip(".").split(".")) + b"\0"

    def serve():
        while True:
            query, peer = sock.recvfrom(1500)
            ident, _, qdcount = struct.unpack(">HHH", query[:6])
            end = 12
            while query[end]:
                end += query[end] + 1
            qname = query[12 : end + 1]
            qtype, _ = struct.unpack(">HH", query[end + 1 : end + 5])
            question = query[12 : end + 5]
            answers = b""
            if qtype == 15 and qname.lower() == encode(domain).lower() and qdcount == 1:
                rdata = struct.pack(">H", 10) + encode(exchange)
                answers = struct.pack(">HHHIH", 0xC00C, 15, 1, 60, len(rdata)) + rdata
            header = struct.pack(">HHHHHH", ident, 0x8580, 1, 1 if answers else 0, 0, 0)
            sock.sendto(header + question + answers, peer)

    threading.Thread(target=serve, daemon=True).start()
    return f"127.0.0.1:{sock.getsockname()[1]}"


def _control(endpoint, path, body):
    request = urllib.request.Request(
        f"{endpoint}/_ocp_aws_test/{path}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request) as answer:
        return json.loads(answer.read() or b"{}")


def test_an_address_verified_through_s3_and_a_dmarc_check_through_salt(minion, aws, endpoint, suffix):
    region = "ap-northeast-1"
    domain, from_domain = f"rcv-{suffix}.example.org", f"from-{suffix}.example.com"
    address, bucket = f"verify@{domain}", f"verify-{suffix}"
    nameserver = _dns_server(domain, f"inbound-smtp.{region}.amazonaws.com")
    link_host = endpoint.removeprefix("http://")
    _control(
        endpoint,
        "verification-mail",
        {"EmailIdentity": address, "LinkBase": f"{endpoint}/_ocp_aws_test/verify-link", "Region": region},
    )
    pillar = {
        "region": region,
        "nameservers": [nameserver],
        "ses": {
            "domains": {from_domain: {}},
            "email_addresses": {
                address: {"verify_via_s3": {"bucket": bucket, "link_hosts": [link_host]}, "wait": "60s"}
            },
        },
    }
    applied = minion.apply(pillar)
    assert applied.retcode == 0, applied
    state = next(ret for ret in applied.states() if ret["name"] == address)
    assert state["result"] is True and f"Verified by receiving its mail in s3://{bucket}" in state["comment"], state
    ses = aws("ses", region)
    assert "Metadata" not in ses.describe_active_receipt_rule_set(), "no rule set stays active"
    assert aws("sesv2", region).get_email_identity(EmailIdentity=address)["VerificationStatus"] == "SUCCESS"
    assert _control(endpoint, "verification-mail-status", {"EmailIdentity": address, "Region": region})["Followed"] == 1

    check = ("ocp_aws.dmarc_check", f"from_=noreply@{from_domain}", f"to={address}", f"region={region}")
    check += (f"bucket={bucket}", f"nameserver={nameserver}")
    checked = minion.call(*check)
    assert checked.retcode == 0, checked
    assert checked.data["passes"] is True, checked.data
    assert "Metadata" not in ses.describe_active_receipt_rule_set()
    assert aws("s3", region).list_objects_v2(Bucket=bucket).get("KeyCount") == 0, "the stored mail is deleted"

    # A message that fails DMARC: the return says so, and so does the job's return code.
    _control(endpoint, "delivery-authentication", {"Recipient": address, "Dkim": "fail", "Dmarc": "fail", "Region": region})
    failing = minion.call(*check)
    assert failing.retcode == 1, failing
    assert failing.data["passes"] is False, failing.data
    assert "Metadata" not in ses.describe_active_receipt_rule_set()

    for stdout, stderr in minion.outputs:
        assert "X-Amz-Signature" not in stdout and "X-Amz-Signature" not in stderr, "the link's token never shows"


def test_a_state_on_its_own_asks_the_pillars_nameservers(minion, aws, endpoint, suffix):
    """An ``ocp_aws`` state used outside the formula looks the address's MX up with the Pillar's
    ``ocp_aws:nameservers``, as the formula's converge does."""
    region = "ap-northeast-1"
    domain = f"alone-{suffix}.example.org"
    address, bucket = f"verify@{domain}", f"alone-{suffix}"
    nameserver = _dns_server(domain, f"inbound-smtp.{region}.amazonaws.com")
    link_base = f"{endpoint}/_ocp_aws_test/verify-link"
    _control(endpoint, "verification-mail", {"EmailIdentity": address, "LinkBase": link_base, "Region": region})
    minion.write_pillar({"nameservers": [nameserver]})
    verify = json.dumps({"bucket": bucket, "link_hosts": [endpoint.removeprefix("http://")]})
    result = minion.call(
        "state.single", "ocp_aws.ses_email_identity_present", f"name={address}", f"region={region}",
        f"verify_via_s3={verify}", "wait=60s",
    )
    assert result.retcode == 0, result
    [state] = result.states()
    assert state["result"] is True and f"Verified by receiving its mail in s3://{bucket}" in state["comment"], state
    assert aws("sesv2", region).get_email_identity(EmailIdentity=address)["VerificationStatus"] == "SUCCESS"
