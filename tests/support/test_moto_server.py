"""Tests of tests/support/moto_server.py: each patched or added SES v2 route answers in the shape
the AWS SES API v2 reference gives, SES receiving (receipt rules, mail stored by an active rule,
verification links) behaves as AWS documents, the test controls work, accounts and regions stay
apart, and moto's own behaviour is kept.

The module starts its own server on a free loopback port (not the shared OCP_AWS_TEST_ENDPOINT: one
test resets it). Each test uses its own account (the x-moto-account-id header), so tests never see
each other's identities or account settings.
Raw responses (urllib, SigV4-signed with botocore) check what boto3 would hide: JSON number types,
missing keys, the error header.
"""

import email
import email.policy
import json
import random
import re
import time
import urllib.error
import urllib.request
from urllib.parse import parse_qs, quote, urlsplit

import boto3
import botocore.exceptions
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

import moto_process

CREDENTIALS = Credentials("testing", "testing")


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    """URL of the launcher, started for this module on a free loopback port."""
    with moto_process.started(tmp_path_factory.mktemp("moto")) as url:
        yield url


@pytest.fixture
def account():
    """A 12-digit account id of this test alone."""
    return str(random.randint(10**11, 10**12 - 1))


@pytest.fixture
def ses(endpoint, account):
    """Return an SES client (v2 by default) of this test's account: ses(), ses("ses"), ses(region=...)."""

    def client(service="sesv2", region="us-east-1", account_id=account):
        client = boto3.client(
            service,
            region_name=region,
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

        def add_account(request, **_):
            request.headers["x-moto-account-id"] = account_id

        client.meta.events.register("before-sign.*.*", add_account)
        return client

    return client


@pytest.fixture
def raw(endpoint, account):
    """Send a signed SES v2 request; return (status, headers, parsed JSON body or None)."""

    def send(method, path, body=None, region="us-east-1", account_id=account):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json", "x-moto-account-id": account_id}
        request = AWSRequest(method=method, url=endpoint + path, data=data, headers=headers)
        SigV4Auth(CREDENTIALS, "ses", region).add_auth(request)
        prepared = request.prepare()
        headers = dict(prepared.headers)
        http = urllib.request.Request(prepared.url, data=prepared.body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(http) as response:
                status, headers, text = response.status, response.headers, response.read()
        except urllib.error.HTTPError as failure:
            status, headers, text = failure.code, failure.headers, failure.read()
        return status, headers, json.loads(text) if text else None

    return send


@pytest.fixture
def control(endpoint, account):
    """POST a test control for this test's account (in the body, or the header); return (status, body)."""

    def post(name, account_header=False, **body):
        headers = {"Content-Type": "application/json"}
        if account_header:
            headers["x-moto-account-id"] = account
        else:
            body.setdefault("AccountId", account)
        request = urllib.request.Request(
            f"{endpoint}/_ocp_aws_test/{name}", data=json.dumps(body).encode(), method="POST", headers=headers
        )
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as failure:
            return failure.code, json.loads(failure.read())

    return post


def identity_path(name):
    return f"/v2/email/identities/{quote(name, safe='')}"


def read(client, name="example.com"):
    """GetEmailIdentity through boto3."""
    return client.get_email_identity(EmailIdentity=name)


def set_mail_from(client, domain, name="example.com"):
    client.put_email_identity_mail_from_attributes(EmailIdentity=name, MailFromDomain=domain)


def suppressed_reasons(client):
    return client.get_account()["SuppressionAttributes"]["SuppressedReasons"]


def request_production_access(client, url="https://example.com"):
    client.put_account_details(MailType="MARKETING", WebsiteURL=url, ProductionAccessEnabled=True)


def assert_error(answer, status, code):
    """A REST-JSON error as AWS sends it: status, x-amzn-ErrorType header, {"message"} body."""
    got_status, headers, body = answer
    assert (got_status, headers["x-amzn-ErrorType"]) == (status, code)
    assert isinstance(body["message"], str) and body["message"]


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --- GetEmailIdentity, CreateEmailIdentity, DeleteEmailIdentity ----------------------------------


def test_get_email_identity_of_a_domain_has_the_documented_shape(ses, raw):
    ses().create_email_identity(EmailIdentity="example.com")
    status, headers, body = raw("GET", identity_path("example.com"))
    assert status == 200 and headers["Content-Type"] == "application/json"
    dkim = body.pop("DkimAttributes")
    assert body == {
        "IdentityType": "DOMAIN",
        "FeedbackForwardingStatus": True,
        "VerifiedForSendingStatus": True,
        "VerificationStatus": "SUCCESS",
        "MailFromAttributes": {"BehaviorOnMxFailure": "USE_DEFAULT_VALUE"},
        "Policies": {},
        "Tags": [],
    }
    timestamp = dkim.pop("LastKeyGenerationTimestamp")
    assert is_number(timestamp) and abs(timestamp - time.time()) < 60
    tokens = dkim.pop("Tokens")
    assert len(tokens) == 3 and len(set(tokens)) == 3 and all(t.isalnum() for t in tokens)
    assert dkim == {
        "SigningEnabled": True,
        "Status": "SUCCESS",
        "SigningAttributesOrigin": "AWS_SES",
        "NextSigningKeyLength": "RSA_2048_BIT",
        "CurrentSigningKeyLength": "RSA_2048_BIT",
    }
    # The tokens are stable, and boto3 parses the timestamp.
    again = read(ses())
    assert again["DkimAttributes"]["Tokens"] == tokens
    assert again["DkimAttributes"]["LastKeyGenerationTimestamp"].timestamp() == pytest.approx(timestamp)
    assert_error(raw("GET", identity_path("unknown.example.com")), 404, "NotFoundException")


def test_create_email_identity_with_dkim_signing_attributes_sends_numbers(ses, raw):
    ses().create_configuration_set(ConfigurationSetName="transactional")
    status, _, created = raw(
        "POST",
        "/v2/email/identities",
        {
            "EmailIdentity": "example.org",
            "DkimSigningAttributes": {"NextSigningKeyLength": "RSA_1024_BIT"},
            "ConfigurationSetName": "transactional",
            "Tags": [{"Key": "team", "Value": "mail"}],
        },
    )
    assert status == 200
    assert set(created) == {"IdentityType", "VerifiedForSendingStatus", "DkimAttributes"}
    assert created["IdentityType"] == "DOMAIN" and created["VerifiedForSendingStatus"] is True
    assert is_number(created["DkimAttributes"]["LastKeyGenerationTimestamp"])
    assert len(created["DkimAttributes"]["Tokens"]) == 3
    _, _, body = raw("GET", identity_path("example.org"))
    assert body["DkimAttributes"]["Tokens"] == created["DkimAttributes"]["Tokens"]
    assert body["DkimAttributes"]["NextSigningKeyLength"] == "RSA_1024_BIT"
    assert body["DkimAttributes"]["CurrentSigningKeyLength"] == "RSA_1024_BIT"
    assert is_number(body["DkimAttributes"]["LastKeyGenerationTimestamp"])
    assert body["ConfigurationSetName"] == "transactional"
    assert body["Tags"] == [{"Key": "team", "Value": "mail"}]


def test_an_email_address_identity_has_no_dkim_tokens(ses):
    ses().create_email_identity(EmailIdentity="ops@example.com")
    identity = ses().get_email_identity(EmailIdentity="ops@example.com")
    assert identity["IdentityType"] == "EMAIL_ADDRESS"
    assert identity["VerificationStatus"] == "SUCCESS" and identity["VerifiedForSendingStatus"] is True
    assert identity["DkimAttributes"] == {
        "SigningEnabled": False,
        "Status": "NOT_STARTED",
        "SigningAttributesOrigin": "AWS_SES",
    }


def test_creating_an_existing_identity_fails_like_aws(ses, raw):
    ses().create_email_identity(EmailIdentity="example.com")
    tokens = read(ses())["DkimAttributes"]["Tokens"]
    again = raw("POST", "/v2/email/identities", {"EmailIdentity": "example.com"})
    assert_error(again, 400, "AlreadyExistsException")
    with pytest.raises(ses().exceptions.AlreadyExistsException):
        ses().create_email_identity(EmailIdentity="example.com")
    assert read(ses())["DkimAttributes"]["Tokens"] == tokens


def test_delete_email_identity_and_list_email_identities_still_work(ses, raw):
    client = ses()
    client.create_email_identity(EmailIdentity="example.com")
    client.create_email_identity(EmailIdentity="ops@example.com")
    listed = {i["IdentityName"]: i for i in client.list_email_identities()["EmailIdentities"]}
    assert set(listed) == {"example.com", "ops@example.com"}
    assert listed["example.com"]["IdentityType"] == "DOMAIN"
    assert listed["example.com"]["SendingEnabled"] is True
    client.delete_email_identity(EmailIdentity="ops@example.com")
    listed = [i["IdentityName"] for i in client.list_email_identities()["EmailIdentities"]]
    assert listed == ["example.com"]
    with pytest.raises(client.exceptions.NotFoundException):
        client.get_email_identity(EmailIdentity="ops@example.com")
    # AWS answers 404 for an identity that does not exist (moto answered 200).
    assert_error(raw("DELETE", identity_path("ops@example.com")), 404, "NotFoundException")


def test_moto_identity_policies_show_in_get_email_identity(ses):
    client = ses()
    client.create_email_identity(EmailIdentity="example.com")
    policy = json.dumps({"Version": "2012-10-17", "Statement": []})
    client.create_email_identity_policy(EmailIdentity="example.com", PolicyName="senders", Policy=policy)
    assert read(client)["Policies"] == {"senders": policy}
    assert client.get_email_identity_policies(EmailIdentity="example.com")["Policies"] == {"senders": policy}


# --- PutEmailIdentityDkimSigningAttributes, PutEmailIdentityMailFromAttributes ------------------


def test_put_email_identity_dkim_signing_attributes(ses, raw):
    client = ses()
    client.create_email_identity(EmailIdentity="example.com")
    before = raw("GET", identity_path("example.com"))[2]["DkimAttributes"]
    time.sleep(0.01)
    status, _, answer = raw(
        "PUT",
        identity_path("example.com") + "/dkim/signing",
        {"SigningAttributesOrigin": "AWS_SES", "SigningAttributes": {"NextSigningKeyLength": "RSA_1024_BIT"}},
    )
    assert status == 200
    assert answer == {"DkimStatus": "SUCCESS", "DkimTokens": before["Tokens"]}
    after = raw("GET", identity_path("example.com"))[2]["DkimAttributes"]
    assert after["NextSigningKeyLength"] == after["CurrentSigningKeyLength"] == "RSA_1024_BIT"
    assert is_number(after["LastKeyGenerationTimestamp"])
    assert after["LastKeyGenerationTimestamp"] > before["LastKeyGenerationTimestamp"]
    assert after["Tokens"] == before["Tokens"]
    with pytest.raises(client.exceptions.NotFoundException):
        client.put_email_identity_dkim_signing_attributes(
            EmailIdentity="unknown.example.com", SigningAttributesOrigin="AWS_SES"
        )


def test_put_email_identity_mail_from_attributes(ses, raw):
    client = ses()
    client.create_email_identity(EmailIdentity="example.com")
    status, _, answer = raw(
        "PUT",
        identity_path("example.com") + "/mail-from",
        {"MailFromDomain": "bounce.example.com", "BehaviorOnMxFailure": "REJECT_MESSAGE"},
    )
    assert (status, answer) == (200, {})
    # AWS: PENDING until SES finds the MX record, which only a test control can say it did.
    assert read(client)["MailFromAttributes"] == {
        "MailFromDomain": "bounce.example.com",
        "MailFromDomainStatus": "PENDING",
        "BehaviorOnMxFailure": "REJECT_MESSAGE",
    }
    # SES v1 sees the same setting.
    v1 = ses("ses").get_identity_mail_from_domain_attributes(Identities=["example.com"])
    assert v1["MailFromDomainAttributes"]["example.com"]["MailFromDomain"] == "bounce.example.com"
    # No MailFromDomain removes it.
    client.put_email_identity_mail_from_attributes(EmailIdentity="example.com")
    assert read(client)["MailFromAttributes"] == {"BehaviorOnMxFailure": "USE_DEFAULT_VALUE"}
    with pytest.raises(client.exceptions.BadRequestException):
        set_mail_from(client, "bounce.example.net")
    with pytest.raises(client.exceptions.NotFoundException):
        client.put_email_identity_mail_from_attributes(
            EmailIdentity="unknown.example.com", MailFromDomain="bounce.unknown.example.com"
        )


# --- GetAccount, PutAccountSuppressionAttributes, PutAccountDetails ------------------------------


def test_get_account_of_a_new_account_is_in_the_sandbox(raw):
    status, _, body = raw("GET", "/v2/email/account")
    assert status == 200
    assert body == {
        "DedicatedIpAutoWarmupEnabled": False,
        "EnforcementStatus": "HEALTHY",
        "ProductionAccessEnabled": False,
        "SendQuota": {"Max24HourSend": 200.0, "MaxSendRate": 1.0, "SentLast24Hours": 0.0},
        "SendingEnabled": True,
        "SuppressionAttributes": {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]},
    }
    assert all(is_number(value) for value in body["SendQuota"].values())


def test_put_account_suppression_attributes(ses, raw):
    client = ses()
    status, _, answer = raw("PUT", "/v2/email/account/suppression", {"SuppressedReasons": ["BOUNCE"]})
    assert (status, answer) == (200, {})
    assert client.get_account()["SuppressionAttributes"] == {"SuppressedReasons": ["BOUNCE"]}
    client.put_account_suppression_attributes(SuppressedReasons=[])
    assert client.get_account()["SuppressionAttributes"] == {"SuppressedReasons": []}
    bad = raw("PUT", "/v2/email/account/suppression", {"SuppressedReasons": ["SPAM"]})
    assert_error(bad, 400, "BadRequestException")


def test_put_account_details_opens_a_review(ses, raw):
    client = ses()
    # Without ProductionAccessEnabled the details are only stored.
    stored = {"MailType": "TRANSACTIONAL", "WebsiteURL": "https://example.com"}
    client.put_account_details(**stored)
    assert client.get_account()["Details"] == stored
    details = {
        "MailType": "TRANSACTIONAL",
        "WebsiteURL": "https://example.com",
        "ContactLanguage": "EN",
        "UseCaseDescription": "Password resets.",
        "AdditionalContactEmailAddresses": ["ops@example.com"],
        "ProductionAccessEnabled": True,
    }
    status, _, answer = raw("POST", "/v2/email/account/details", details)
    assert (status, answer) == (200, {})
    account = client.get_account()
    review = account["Details"].pop("ReviewDetails")
    assert account["Details"] == {k: v for k, v in details.items() if k != "ProductionAccessEnabled"}
    assert review["Status"] == "PENDING" and review["CaseId"]
    assert account["ProductionAccessEnabled"] is False
    # AWS: "If there is already an ongoing account details update under review."
    assert_error(raw("POST", "/v2/email/account/details", details), 409, "ConflictException")
    # Required fields (boto3 checks them before sending, so these go raw).
    for partial in ({"MailType": "MARKETING"}, {"WebsiteURL": "https://example.com"}):
        assert_error(raw("POST", "/v2/email/account/details", partial), 400, "BadRequestException")


def test_account_review_control_grants_or_denies(ses, control, account):
    client = ses()
    request_production_access(client)
    case = client.get_account()["Details"]["ReviewDetails"]["CaseId"]
    assert control("account-review", Status="GRANTED") == (200, {})
    granted = client.get_account()
    assert granted["ProductionAccessEnabled"] is True
    assert granted["Details"]["ReviewDetails"] == {"Status": "GRANTED", "CaseId": case}
    assert granted["SendQuota"]["Max24HourSend"] == 50000.0 and granted["SendQuota"]["MaxSendRate"] == 14.0

    other = str(int(account) + 1)
    denied_client = ses(account_id=other)
    request_production_access(denied_client)
    assert control("account-review", Status="DENIED", AccountId=other) == (200, {})
    denied = denied_client.get_account()
    assert denied["ProductionAccessEnabled"] is False
    assert denied["Details"]["ReviewDetails"]["Status"] == "DENIED"
    # After a denial, new details open a new review.
    request_production_access(denied_client)
    assert denied_client.get_account()["Details"]["ReviewDetails"]["Status"] == "PENDING"


# --- GetConfigurationSet -------------------------------------------------------------------------


def test_get_configuration_set_has_the_documented_shape(ses, raw):
    ses().create_configuration_set(
        ConfigurationSetName="marketing",
        SendingOptions={"SendingEnabled": False},
        DeliveryOptions={"TlsPolicy": "REQUIRE"},
        Tags=[{"Key": "team", "Value": "mail"}],
    )
    ses().create_configuration_set(ConfigurationSetName="plain")
    status, _, body = raw("GET", "/v2/email/configuration-sets/marketing")
    assert status == 200
    assert body == {
        "ConfigurationSetName": "marketing",
        "SendingOptions": {"SendingEnabled": False},
        "DeliveryOptions": {"TlsPolicy": "REQUIRE"},
        "Tags": [{"Key": "team", "Value": "mail"}],
    }
    assert raw("GET", "/v2/email/configuration-sets/plain")[2] == {
        "ConfigurationSetName": "plain",
        "SendingOptions": {"SendingEnabled": True},
        "Tags": [],
    }
    assert_error(raw("GET", "/v2/email/configuration-sets/unknown"), 404, "NotFoundException")


# --- Test controls -------------------------------------------------------------------------------


def test_identity_status_control_keeps_an_identity_pending_for_n_reads(ses, control):
    client = ses()
    # Armed before the identity exists, as a test does before the tool creates it.
    assert control("identity-status", EmailIdentity="example.com", PendingReads=2) == (200, {})
    created = client.create_email_identity(EmailIdentity="example.com")
    assert created["DkimAttributes"]["Status"] == "PENDING" and created["VerifiedForSendingStatus"] is False
    reads = [read(client) for _ in range(3)]
    assert [r["VerificationStatus"] for r in reads] == ["PENDING", "PENDING", "SUCCESS"]
    assert [r["DkimAttributes"]["Status"] for r in reads] == ["PENDING", "PENDING", "SUCCESS"]
    assert [r["VerifiedForSendingStatus"] for r in reads] == [False, False, True]
    listed = client.list_email_identities()["EmailIdentities"]
    assert [i["VerificationStatus"] for i in listed] == ["SUCCESS"]


def test_identity_status_control_counts_mail_from_reads_once_a_domain_is_set(ses, control):
    client = ses()
    client.create_email_identity(EmailIdentity="example.com")
    armed = control("identity-status", EmailIdentity="example.com", MailFromPendingReads=2, MailFromStatus="SUCCESS")
    assert armed[0] == 200
    # Reads without a MAIL FROM domain do not count.
    assert "MailFromDomainStatus" not in read(client)["MailFromAttributes"]
    set_mail_from(client, "mail.example.com")
    reads = [read(client) for _ in range(3)]
    statuses = [r["MailFromAttributes"]["MailFromDomainStatus"] for r in reads]
    assert statuses == ["PENDING", "PENDING", "SUCCESS"]
    assert {r["VerificationStatus"] for r in reads} == {"SUCCESS"}


def test_identity_status_control_can_fail_an_identity(ses, control):
    client = ses()
    client.create_email_identity(EmailIdentity="example.com")
    set_mail_from(client, "mail.example.com")
    failed = {"Status": "FAILED", "MailFromStatus": "FAILED"}
    control("identity-status", EmailIdentity="example.com", PendingReads=1, **failed)
    reads = [read(client) for _ in range(2)]
    assert [r["VerificationStatus"] for r in reads] == ["PENDING", "FAILED"]
    assert [r["DkimAttributes"]["Status"] for r in reads] == ["PENDING", "FAILED"]
    assert [r["MailFromAttributes"]["MailFromDomainStatus"] for r in reads] == ["FAILED", "FAILED"]
    # Status PENDING keeps it pending for ever (for timeout tests).
    control("identity-status", EmailIdentity="example.com", Status="PENDING")
    assert read(client)["VerificationStatus"] == "PENDING"


def test_mail_from_is_pending_until_the_mail_from_status_control_says_otherwise(ses, control):
    client = ses()
    client.create_email_identity(EmailIdentity="example.com")
    set_mail_from(client, "mail.example.com")
    assert [read(client)["MailFromAttributes"]["MailFromDomainStatus"] for _ in range(3)] == ["PENDING"] * 3
    assert control("mail-from-status", EmailIdentity="example.com", Status="SUCCESS", PendingReads=1) == (200, {})
    statuses = [read(client)["MailFromAttributes"]["MailFromDomainStatus"] for _ in range(2)]
    assert statuses == ["PENDING", "SUCCESS"]
    # The identity's own status is left as it was.
    assert read(client)["VerificationStatus"] == "SUCCESS"
    control("mail-from-status", EmailIdentity="example.com", Status="FAILED")
    assert read(client)["MailFromAttributes"]["MailFromDomainStatus"] == "FAILED"


def test_test_controls_reject_bad_requests(control):
    assert control("identity-status", PendingReads=1)[0] == 400
    assert control("identity-status", EmailIdentity="example.com", PendingReads=-1)[0] == 400
    assert control("identity-status", EmailIdentity="example.com", Status="DONE")[0] == 400
    assert control("mail-from-status", EmailIdentity="example.com", Status="DONE")[0] == 400
    assert control("mail-from-status", Status="SUCCESS")[0] == 400
    assert control("recorded-operations", AccessKeyId=7)[0] == 400
    assert control("account-review", Status="MAYBE")[0] == 400
    assert control("account-review", Status="DENIED")[0] == 400  # nothing under review
    status, body = control("no-such-control")
    assert status == 404 and body["message"]


# --- Isolation -----------------------------------------------------------------------------------


def test_accounts_and_regions_are_isolated(ses, control, account):
    other = str(int(account) + 1)
    ses().create_email_identity(EmailIdentity="example.com")
    ses().put_account_suppression_attributes(SuppressedReasons=["COMPLAINT"])
    control("identity-status", EmailIdentity="example.com", Status="FAILED", account_header=True)

    with pytest.raises(ses().exceptions.NotFoundException):
        ses(account_id=other).get_email_identity(EmailIdentity="example.com")
    with pytest.raises(ses().exceptions.NotFoundException):
        ses(region="eu-west-2").get_email_identity(EmailIdentity="example.com")
    assert suppressed_reasons(ses()) == ["COMPLAINT"]
    assert suppressed_reasons(ses(account_id=other)) == ["BOUNCE", "COMPLAINT"]
    assert suppressed_reasons(ses(region="eu-west-2")) == ["BOUNCE", "COMPLAINT"]
    # The control applied to this account only.
    ses(account_id=other).create_email_identity(EmailIdentity="example.com")
    assert read(ses(account_id=other))["VerificationStatus"] == "SUCCESS"
    assert read(ses())["VerificationStatus"] == "FAILED"


def test_moto_reset_clears_the_extension_state(endpoint, ses, control):
    ses().put_account_suppression_attributes(SuppressedReasons=[])
    control("identity-status", EmailIdentity="example.com", Status="FAILED")
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()
    assert suppressed_reasons(ses()) == ["BOUNCE", "COMPLAINT"]
    ses().create_email_identity(EmailIdentity="example.com")
    assert read(ses())["VerificationStatus"] == "SUCCESS"


# --- Requests AWS refuses ------------------------------------------------------------------------


@pytest.fixture
def unchecked(endpoint, account):
    """Return a boto3 client that sends what it is given (no client-side validation), signed with a
    fresh access key id of this test: unchecked("iam") -> (client, access key id)."""

    def client(service, region="us-east-1"):
        keyid = f"AKIATEST{random.randint(10**9, 10**10)}"
        made = boto3.client(
            service,
            region_name=region,
            endpoint_url=endpoint,
            aws_access_key_id=keyid,
            aws_secret_access_key="testing",
            config=Config(parameter_validation=False),
        )

        def add_account(request, **_):
            request.headers["x-moto-account-id"] = account

        made.meta.events.register("before-sign.*.*", add_account)
        return made, keyid

    return client


def refused_with(call, code):
    with pytest.raises(ClientError) as refused:
        call()
    error = refused.value.response
    assert (error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]) == (400, code), error
    return error["Error"]["Message"]


def test_an_empty_additional_contacts_list_is_refused_as_aws_does(unchecked):
    ses, _ = unchecked("sesv2")
    details = {"MailType": "TRANSACTIONAL", "WebsiteURL": "https://example.com", "UseCaseDescription": "Resets."}
    message = refused_with(
        lambda: ses.put_account_details(**details, AdditionalContactEmailAddresses=[], ProductionAccessEnabled=True),
        "BadRequestException",
    )
    assert "AdditionalContactEmailAddresses" in message
    assert "Details" not in ses.get_account(), "the refused request changed nothing"
    ses.put_account_details(**details, AdditionalContactEmailAddresses=["ops@example.com"])
    assert ses.get_account()["Details"]["AdditionalContactEmailAddresses"] == ["ops@example.com"]
    refused_with(lambda: ses.put_account_details(**{**details, "MailType": "SPAM"}), "BadRequestException")


def test_names_aws_refuses_are_refused_in_each_protocol(unchecked):
    iam, _ = unchecked("iam")
    assert "max length: 64" in refused_with(lambda: iam.create_user(UserName="u" * 65), "ValidationError")
    assert "pattern" in refused_with(lambda: iam.create_user(UserName="has space"), "ValidationError")
    refused_with(lambda: iam.create_user(UserName=""), "ValidationError")
    with pytest.raises(ClientError):
        iam.get_user(UserName="u" * 65)
    s3, _ = unchecked("s3", "eu-west-2")
    s3.create_bucket(Bucket="ocp-rules", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    rule = {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 30}}
    bad = {**rule, "Status": "On"}
    message = refused_with(
        lambda: s3.put_bucket_lifecycle_configuration(Bucket="ocp-rules", LifecycleConfiguration={"Rules": [bad]}),
        "InvalidArgument",
    )
    assert "Rules[0].Status" in message
    missing = {k: v for k, v in rule.items() if k != "Status"}
    refused_with(
        lambda: s3.put_bucket_lifecycle_configuration(Bucket="ocp-rules", LifecycleConfiguration={"Rules": [missing]}),
        "InvalidArgument",
    )
    v1, _ = unchecked("ses")
    refused_with(lambda: v1.set_identity_mail_from_domain(Identity="example.com", BehaviorOnMXFailure="Bounce"), "ValidationError")


def test_well_formed_requests_of_each_service_pass(unchecked, endpoint):
    iam, _ = unchecked("iam")
    iam.create_user(UserName="backup+ops@example.com")
    iam.create_access_key(UserName="backup+ops@example.com")
    document = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})
    arn = iam.create_policy(PolicyName="backup", PolicyDocument=document)["Policy"]["Arn"]
    iam.attach_user_policy(UserName="backup+ops@example.com", PolicyArn=arn)
    assert iam.list_attached_user_policies(UserName="backup+ops@example.com")["AttachedPolicies"][0]["PolicyArn"] == arn
    s3, _ = unchecked("s3", "eu-west-2")
    s3.create_bucket(Bucket="ocp-fine", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"})
    rule = {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 30}}
    rule["AbortIncompleteMultipartUpload"] = {"DaysAfterInitiation": 7}
    s3.put_bucket_lifecycle_configuration(Bucket="ocp-fine", LifecycleConfiguration={"Rules": [rule]})
    s3.put_bucket_versioning(Bucket="ocp-fine", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="ocp-fine", Key="dir/a file.txt", Body=b"x")
    assert s3.get_object(Bucket="ocp-fine", Key="dir/a file.txt")["Body"].read() == b"x"
    s3.copy_object(Bucket="ocp-fine", Key="copy.txt", CopySource={"Bucket": "ocp-fine", "Key": "dir/a file.txt"})
    assert len(s3.list_object_versions(Bucket="ocp-fine")["Versions"]) == 2
    sts, _ = unchecked("sts")
    assert sts.get_caller_identity()["Account"]
    v1, _ = unchecked("ses")
    v1.verify_domain_identity(Domain="example.com")
    v1.set_identity_mail_from_domain(Identity="example.com", MailFromDomain="bounce.example.com")
    ses, _ = unchecked("sesv2")
    ses.create_email_identity(EmailIdentity="example.org", DkimSigningAttributes={"NextSigningKeyLength": "RSA_1024_BIT"})
    ses.put_email_identity_mail_from_attributes(EmailIdentity="example.org", MailFromDomain="bounce.example.org")
    assert [i["IdentityName"] for i in ses.list_email_identities()["EmailIdentities"]] == ["example.com", "example.org"]
    # A refusal would have raised ClientError above.


def test_a_policy_still_attached_or_with_versions_cannot_be_deleted(unchecked):
    iam, _ = unchecked("iam")
    iam.create_user(UserName="holder")
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    arn = iam.create_policy(PolicyName="held", PolicyDocument=json.dumps(document))["Policy"]["Arn"]
    iam.attach_user_policy(UserName="holder", PolicyArn=arn)
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_policy(PolicyArn=arn)
    iam.detach_user_policy(UserName="holder", PolicyArn=arn)
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(document), SetAsDefault=True)
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_policy(PolicyArn=arn)
    iam.delete_policy_version(PolicyArn=arn, VersionId="v1")
    iam.delete_policy(PolicyArn=arn)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_policy(PolicyArn=arn)


# --- The recording, by operation -----------------------------------------------------------------


def recorded(endpoint, keyid=None):
    body = {} if keyid is None else {"AccessKeyId": keyid}
    request = urllib.request.Request(
        f"{endpoint}/_ocp_aws_test/recorded-operations", data=json.dumps(body).encode(), method="POST"
    )
    with urllib.request.urlopen(request) as response:
        return [(op["Service"], op["Operation"], op["Read"]) for op in json.loads(response.read())["Operations"]]


def test_recorded_operations_are_named_classified_and_kept_apart_by_access_key(unchecked, endpoint):
    iam, keyid = unchecked("iam")
    ses, other = unchecked("sesv2")
    s3, third = unchecked("s3")
    iam.create_user(UserName="recorded")
    iam.get_user(UserName="recorded")
    refused_with(lambda: iam.create_user(UserName="x" * 65), "ValidationError")
    ses.list_email_identities()
    ses.create_email_identity(EmailIdentity="recorded.example.com")
    ses.get_email_identity(EmailIdentity="recorded.example.com")
    s3.create_bucket(Bucket="ocp-recorded")
    s3.put_bucket_lifecycle_configuration(
        Bucket="ocp-recorded",
        LifecycleConfiguration={"Rules": [{"ID": "r", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1}}]},
    )
    s3.get_bucket_lifecycle_configuration(Bucket="ocp-recorded")
    s3.head_bucket(Bucket="ocp-recorded")
    # A refused request is recorded too: the client did send it.
    assert recorded(endpoint, keyid) == [
        ("IAM", "CreateUser", False),
        ("IAM", "GetUser", True),
        ("IAM", "CreateUser", False),
    ]
    # SES v2 sends ListEmailIdentities as a POST: it is a read all the same.
    assert recorded(endpoint, other) == [
        ("SESv2", "ListEmailIdentities", True),
        ("SESv2", "CreateEmailIdentity", False),
        ("SESv2", "GetEmailIdentity", True),
    ]
    assert recorded(endpoint, third) == [
        ("S3", "CreateBucket", False),
        ("S3", "PutBucketLifecycleConfiguration", False),
        ("S3", "GetBucketLifecycleConfiguration", True),
        ("S3", "HeadBucket", True),
    ]
    everyone = recorded(endpoint)
    assert len(everyone) >= 10 and ("IAM", "GetUser", True) in everyone


# --- Notifications: configuration-set event destinations and options, identity settings, SNS -----


def sns_destination(topic, events=("REJECT",), enabled=True):
    return {"Enabled": enabled, "MatchingEventTypes": list(events), "SnsDestination": {"TopicArn": topic}}


TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:data"


def test_create_and_get_configuration_set_event_destinations(ses, raw):
    client = ses()
    client.create_configuration_set(ConfigurationSetName="credere")
    client.create_configuration_set_event_destination(
        ConfigurationSetName="credere", EventDestinationName="d1", EventDestination=sns_destination(TOPIC_ARN)
    )
    status, _, body = raw("GET", "/v2/email/configuration-sets/credere/event-destinations")
    assert status == 200
    assert body == {
        "EventDestinations": [
            {"Name": "d1", "Enabled": True, "MatchingEventTypes": ["REJECT"], "SnsDestination": {"TopicArn": TOPIC_ARN}}
        ]
    }
    again = raw(
        "POST",
        "/v2/email/configuration-sets/credere/event-destinations",
        {"EventDestinationName": "d1", "EventDestination": sns_destination(TOPIC_ARN)},
    )
    assert_error(again, 400, "AlreadyExistsException")
    assert_error(raw("GET", "/v2/email/configuration-sets/nope/event-destinations"), 404, "NotFoundException")


def test_update_configuration_set_event_destination(ses, raw):
    client = ses()
    client.create_configuration_set(ConfigurationSetName="credere")
    client.create_configuration_set_event_destination(
        ConfigurationSetName="credere", EventDestinationName="d1", EventDestination=sns_destination(TOPIC_ARN)
    )
    client.update_configuration_set_event_destination(
        ConfigurationSetName="credere",
        EventDestinationName="d1",
        EventDestination=sns_destination(TOPIC_ARN, ("BOUNCE", "DELIVERY_DELAY"), enabled=False),
    )
    (dest,) = client.get_configuration_set_event_destinations(ConfigurationSetName="credere")["EventDestinations"]
    assert (dest["Enabled"], dest["MatchingEventTypes"]) == (False, ["BOUNCE", "DELIVERY_DELAY"])
    missing = raw(
        "PUT",
        "/v2/email/configuration-sets/credere/event-destinations/nope",
        {"EventDestination": sns_destination(TOPIC_ARN)},
    )
    assert_error(missing, 404, "NotFoundException")


def test_delete_configuration_set_event_destination(ses, raw):
    client = ses()
    client.create_configuration_set(ConfigurationSetName="credere")
    client.create_configuration_set_event_destination(
        ConfigurationSetName="credere", EventDestinationName="d1", EventDestination=sns_destination(TOPIC_ARN)
    )
    client.delete_configuration_set_event_destination(ConfigurationSetName="credere", EventDestinationName="d1")
    assert client.get_configuration_set_event_destinations(ConfigurationSetName="credere")["EventDestinations"] == []
    gone = raw("DELETE", "/v2/email/configuration-sets/credere/event-destinations/d1")
    assert_error(gone, 404, "NotFoundException")


def test_put_configuration_set_options_show_in_get_configuration_set(ses, raw):
    client = ses()
    client.create_configuration_set(ConfigurationSetName="credere")
    client.put_configuration_set_sending_options(ConfigurationSetName="credere", SendingEnabled=False)
    client.put_configuration_set_reputation_options(ConfigurationSetName="credere", ReputationMetricsEnabled=True)
    client.put_configuration_set_delivery_options(ConfigurationSetName="credere", TlsPolicy="REQUIRE")
    client.put_configuration_set_suppression_options(ConfigurationSetName="credere", SuppressedReasons=["BOUNCE"])
    status, _, body = raw("GET", "/v2/email/configuration-sets/credere")
    assert status == 200
    assert body["SendingOptions"] == {"SendingEnabled": False}
    assert body["ReputationOptions"]["ReputationMetricsEnabled"] is True
    assert body["DeliveryOptions"] == {"TlsPolicy": "REQUIRE"}
    assert body["SuppressionOptions"] == {"SuppressedReasons": ["BOUNCE"]}
    assert_error(raw("PUT", "/v2/email/configuration-sets/nope/sending", {}), 404, "NotFoundException")


def test_put_email_identity_configuration_set_attributes(ses, raw):
    client = ses()
    client.create_email_identity(EmailIdentity="example.com")
    client.create_configuration_set(ConfigurationSetName="credere")
    client.put_email_identity_configuration_set_attributes(EmailIdentity="example.com", ConfigurationSetName="credere")
    assert read(client)["ConfigurationSetName"] == "credere"
    client.put_email_identity_configuration_set_attributes(EmailIdentity="example.com")
    assert "ConfigurationSetName" not in read(client)
    path = identity_path("example.com") + "/configuration-set"
    assert_error(raw("PUT", path, {"ConfigurationSetName": "nope"}), 404, "NotFoundException")
    assert_error(raw("PUT", identity_path("nope.org") + "/configuration-set", {}), 404, "NotFoundException")


def test_identity_notification_topics_and_headers_are_returned(ses):
    v1 = ses("ses")
    v1.verify_domain_identity(Domain="example.com")
    before = v1.get_identity_notification_attributes(Identities=["example.com"])["NotificationAttributes"]
    assert before["example.com"]["ForwardingEnabled"] is True
    assert "BounceTopic" not in before["example.com"]
    v1.set_identity_notification_topic(Identity="example.com", NotificationType="Bounce", SnsTopic=TOPIC_ARN)
    v1.set_identity_headers_in_notifications_enabled(Identity="example.com", NotificationType="Bounce", Enabled=True)
    got = v1.get_identity_notification_attributes(Identities=["example.com"])["NotificationAttributes"]["example.com"]
    assert got["BounceTopic"] == TOPIC_ARN
    assert got["HeadersInBounceNotificationsEnabled"] is True
    assert got["HeadersInComplaintNotificationsEnabled"] is False
    # Clearing a topic (and one never set) is accepted, as on AWS.
    v1.set_identity_notification_topic(Identity="example.com", NotificationType="Bounce")
    v1.set_identity_notification_topic(Identity="example.com", NotificationType="Delivery")
    got = v1.get_identity_notification_attributes(Identities=["example.com"])["NotificationAttributes"]["example.com"]
    assert "BounceTopic" not in got


def test_a_topic_for_an_identity_that_is_not_verified_is_refused(ses, control):
    v1 = ses("ses")
    ses("sesv2").create_email_identity(EmailIdentity="pending.example.com")
    control("identity-status", EmailIdentity="pending.example.com", Status="PENDING")
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        v1.set_identity_notification_topic(
            Identity="pending.example.com", NotificationType="Bounce", SnsTopic=TOPIC_ARN
        )
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "Must be a verified email address or domain" in refused.value.response["Error"]["Message"]
    with pytest.raises(botocore.exceptions.ClientError):
        v1.set_identity_notification_topic(Identity="unknown.example.com", NotificationType="Bounce", SnsTopic=TOPIC_ARN)
    control("identity-status", EmailIdentity="pending.example.com", Status="SUCCESS")
    v1.set_identity_notification_topic(Identity="pending.example.com", NotificationType="Bounce", SnsTopic=TOPIC_ARN)


def test_subscription_pending_control_leaves_a_subscription_pending(ses, control):
    sns = ses("sns")
    arn = sns.create_topic(Name="data")["TopicArn"]
    assert control("subscription-pending", Endpoint="a@example.org", ConfirmAfterReads=2) == (200, {})
    sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="a@example.org")
    sns.subscribe(TopicArn=arn, Protocol="email", Endpoint="b@example.org")

    def arns():
        listed = sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
        return {s["Endpoint"]: s["SubscriptionArn"] for s in listed}

    assert arns()["a@example.org"] == "PendingConfirmation"
    assert arns()["b@example.org"].startswith(arn)
    with pytest.raises(ClientError) as refused:
        sns.unsubscribe(SubscriptionArn="PendingConfirmation")
    assert refused.value.response["Error"]["Code"] == "InvalidParameter"
    assert arns()["a@example.org"].startswith(arn), "confirmed after two reads"
    assert control("subscription-pending", Endpoint="")[0] == 400


def test_set_topic_attributes_refuses_unknown_names(ses):
    sns = ses("sns")
    arn = sns.create_topic(Name="data")["TopicArn"]
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="Data")
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["DisplayName"] == "Data"
    with pytest.raises(ClientError) as refused:
        sns.set_topic_attributes(TopicArn=arn, AttributeName="Colour", AttributeValue="blue")
    assert refused.value.response["Error"]["Code"] == "InvalidParameter"


def create_postgres(rds, name="analysis", **extra):
    settings = dict(
        DBInstanceIdentifier=name,
        Engine="postgres",
        EngineVersion="17.4",
        DBInstanceClass="db.t3.micro",
        AllocatedStorage=20,
        MasterUsername="postgres",
        MasterUserPassword="a-long-enough-password",
    )
    settings.update(extra)
    return rds.create_db_instance(**settings)["DBInstance"]


def refused_code(call, **params):
    with pytest.raises(ClientError) as refused:
        call(**params)
    return refused.value.response["Error"]["Code"]


def test_db_engine_versions_list_postgres_newest_last(ses):
    rds = ses("rds")
    versions = rds.describe_db_engine_versions(Engine="postgres")["DBEngineVersions"]
    numbers = [v["EngineVersion"] for v in versions]
    assert numbers[-1] == "17.5" and "13.20" in numbers
    assert {v["DBParameterGroupFamily"] for v in versions if v["EngineVersion"].startswith("16.")} == {"postgres16"}
    assert [v["EngineVersion"] for v in rds.describe_db_engine_versions(Engine="postgres", DefaultOnly=True)[
        "DBEngineVersions"]] == ["17.5"]
    assert [v["EngineVersion"] for v in rds.describe_db_engine_versions(Engine="postgres", EngineVersion="16")[
        "DBEngineVersions"]] == ["16.8", "16.9"]


def test_orderable_options_per_version_and_class(ses):
    rds = ses("rds")
    options = rds.describe_orderable_db_instance_options(
        Engine="postgres", EngineVersion="17.5", DBInstanceClass="db.t3.micro"
    )["OrderableDBInstanceOptions"]
    assert [(o["EngineVersion"], o["DBInstanceClass"]) for o in options] == [("17.5", "db.t3.micro")]
    assert not rds.describe_orderable_db_instance_options(
        Engine="postgres", EngineVersion="17.5", DBInstanceClass="db.x9.huge"
    )["OrderableDBInstanceOptions"]


def test_create_db_instance_refuses_what_aws_refuses(ses):
    rds = ses("rds")
    assert refused_code(create_postgres, rds=rds, EngineVersion="99.9") == "InvalidParameterCombination"
    assert refused_code(create_postgres, rds=rds, MasterUserPassword="short") == "InvalidParameterValue"
    assert refused_code(create_postgres, rds=rds, MasterUserPassword="has/a/slash/in/it") == "InvalidParameterValue"
    assert refused_code(create_postgres, rds=rds, AllocatedStorage=5) == "InvalidParameterCombination"
    assert create_postgres(rds)["EngineVersion"] == "17.4"


def test_modify_db_instance_checks_passwords_and_versions(ses):
    rds = ses("rds")
    create_postgres(rds)
    modify = rds.modify_db_instance
    assert refused_code(modify, DBInstanceIdentifier="analysis", MasterUserPassword="x") == "InvalidParameterValue"
    assert refused_code(modify, DBInstanceIdentifier="analysis", EngineVersion="16.9") == "InvalidParameterCombination"
    assert refused_code(modify, DBInstanceIdentifier="analysis", EngineVersion="18.0") == "InvalidParameterCombination"
    # A minor upgrade needs no flag.
    modify(DBInstanceIdentifier="analysis", EngineVersion="17.5", ApplyImmediately=True)
    assert rds.describe_db_instances(DBInstanceIdentifier="analysis")["DBInstances"][0]["EngineVersion"] == "17.5"


def test_delete_db_instance_needs_a_final_snapshot_rule(ses):
    rds = ses("rds")
    create_postgres(rds)
    assert refused_code(rds.delete_db_instance, DBInstanceIdentifier="analysis") == "InvalidParameterCombination"
    rds.delete_db_instance(DBInstanceIdentifier="analysis", SkipFinalSnapshot=True)
    assert refused_code(rds.describe_db_instances, DBInstanceIdentifier="analysis") == "DBInstanceNotFound"


def test_db_instance_status_control_goes_through_statuses(ses, control):
    rds = ses("rds")
    assert control("db-instance-status", DBInstanceIdentifier="analysis", Statuses=["creating", "backing-up"]) == (
        200,
        {},
    )
    create_postgres(rds)

    def read():
        return rds.describe_db_instances(DBInstanceIdentifier="analysis")["DBInstances"][0]

    first = read()
    assert first["DBInstanceStatus"] == "creating" and "Endpoint" not in first
    second = read()
    assert second["DBInstanceStatus"] == "backing-up" and second["Endpoint"]["Port"] == 5432
    assert read()["DBInstanceStatus"] == "available"
    assert control("db-instance-status", DBInstanceIdentifier="analysis", Statuses="creating")[0] == 400


def test_a_security_group_in_use_by_a_db_instance_cannot_be_deleted(ses):
    ec2, rds = ses("ec2"), ses("rds")
    group = ec2.create_security_group(GroupName="pg", Description="PostgreSQL")["GroupId"]
    create_postgres(rds, VpcSecurityGroupIds=[group])
    assert refused_code(ec2.delete_security_group, GroupId=group) == "DependencyViolation"
    rds.delete_db_instance(DBInstanceIdentifier="analysis", SkipFinalSnapshot=True)
    ec2.delete_security_group(GroupId=group)


# --- SES v1 receiving: receipt rules, verification mail, delivery to S3 ----------------------------


def error_code(call, **params):
    with pytest.raises(ClientError) as caught:
        call(**params)
    return caught.value.response["Error"]["Code"]


def ses_bucket_policy(bucket, account, source_arn=None, effect="Allow", resource=None):
    condition = {"StringEquals": {"aws:SourceAccount": account}}
    if source_arn:
        condition["ArnLike"] = {"aws:SourceArn": source_arn}
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": effect,
                    "Principal": {"Service": "ses.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": resource or f"arn:aws:s3:::{bucket}/*",
                    "Condition": condition,
                }
            ],
        }
    )


def s3_action(bucket, prefix="mail/"):
    return {"S3Action": {"BucketName": bucket, "ObjectKeyPrefix": prefix}}


@pytest.fixture
def receiving(ses, account):
    """A bucket SES may write to and an active rule set "inbound" whose rule "store" stores mail for
    the given recipients under mail/; returns (ses v1 client, s3 client, bucket, keys())."""
    v1, s3 = ses("ses"), ses("s3")
    bucket = f"inbound-{account}"

    def setup(recipients=("me@example.org",), enabled=True, activate=True):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_policy(Bucket=bucket, Policy=ses_bucket_policy(bucket, account))
        v1.create_receipt_rule_set(RuleSetName="inbound")
        rule = {"Name": "store", "Enabled": enabled, "Actions": [s3_action(bucket)]}
        if recipients:
            rule["Recipients"] = list(recipients)
        v1.create_receipt_rule(RuleSetName="inbound", Rule=rule)
        if activate:
            v1.set_active_receipt_rule_set(RuleSetName="inbound")

        def keys():
            listed = s3.list_objects_v2(Bucket=bucket, Prefix="mail/").get("Contents", [])
            return sorted(o["Key"] for o in listed if not o["Key"].endswith("AMAZON_SES_SETUP_NOTIFICATION"))

        def message(key):
            return s3.get_object(Bucket=bucket, Key=key)["Body"].read()

        return v1, keys, message

    return setup


def test_receipt_rule_sets_are_listed_activated_and_deleted_as_on_aws(ses):
    v1 = ses("ses")
    assert "Metadata" not in v1.describe_active_receipt_rule_set()
    v1.create_receipt_rule_set(RuleSetName="b-set")
    v1.create_receipt_rule_set(RuleSetName="a-set")
    assert error_code(v1.create_receipt_rule_set, RuleSetName="a-set") == "AlreadyExists"
    assert [s["Name"] for s in v1.list_receipt_rule_sets()["RuleSets"]] == ["a-set", "b-set"]
    assert v1.describe_receipt_rule_set(RuleSetName="a-set")["Rules"] == []
    assert error_code(v1.describe_receipt_rule_set, RuleSetName="nope") == "RuleSetDoesNotExist"
    v1.set_active_receipt_rule_set(RuleSetName="a-set")
    assert v1.describe_active_receipt_rule_set()["Metadata"]["Name"] == "a-set"
    assert error_code(v1.delete_receipt_rule_set, RuleSetName="a-set") == "CannotDelete"
    v1.set_active_receipt_rule_set()  # no name: none active
    assert "Metadata" not in v1.describe_active_receipt_rule_set()
    v1.delete_receipt_rule_set(RuleSetName="a-set")
    v1.delete_receipt_rule_set(RuleSetName="a-set")  # an unknown set is not an error
    assert [s["Name"] for s in v1.list_receipt_rule_sets()["RuleSets"]] == ["b-set"]


def test_create_receipt_rule_needs_a_bucket_policy_that_lets_ses_write(ses, account):
    v1, s3 = ses("ses"), ses("s3")
    bucket = f"verification-{account}"
    v1.create_receipt_rule_set(RuleSetName="set")

    def create(name="rule"):
        return v1.create_receipt_rule(
            RuleSetName="set", Rule={"Name": name, "Enabled": True, "Actions": [s3_action(bucket, "v/")]}
        )

    assert error_code(create) == "InvalidS3Configuration"  # no bucket
    s3.create_bucket(Bucket=bucket)
    assert error_code(create) == "InvalidS3Configuration"  # no policy
    for policy in (
        ses_bucket_policy(bucket, "000000000000"),  # another account
        ses_bucket_policy(bucket, account, source_arn="arn:aws:ses:*:*:receipt-rule-set/set:receipt-rule/other"),
        ses_bucket_policy(bucket, account, resource=f"arn:aws:s3:::{bucket}/elsewhere/*"),
        ses_bucket_policy(bucket, account, effect="Deny"),
    ):
        s3.put_bucket_policy(Bucket=bucket, Policy=policy)
        assert error_code(create) == "InvalidS3Configuration", policy
    arn = f"arn:aws:ses:us-east-1:{account}:receipt-rule-set/set:receipt-rule/rule"
    s3.put_bucket_policy(Bucket=bucket, Policy=ses_bucket_policy(bucket, account, source_arn=arn))
    create()
    # SES proves it can write by storing its setup notification under the prefix.
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == ["v/AMAZON_SES_SETUP_NOTIFICATION"]


def test_receipt_rules_positions_names_defaults_and_recipients(ses, account):
    v1, s3 = ses("ses"), ses("s3")
    v1.create_receipt_rule_set(RuleSetName="set")
    v1.create_receipt_rule(RuleSetName="set", Rule={"Name": "one"})
    v1.create_receipt_rule(RuleSetName="set", Rule={"Name": "two"})  # without After: first
    v1.create_receipt_rule(RuleSetName="set", Rule={"Name": "three"}, After="two")
    assert [r["Name"] for r in v1.describe_receipt_rule_set(RuleSetName="set")["Rules"]] == ["two", "three", "one"]
    rule = v1.describe_receipt_rule(RuleSetName="set", RuleName="one")["Rule"]
    assert rule == {"Name": "one", "Enabled": False, "TlsPolicy": "Optional", "ScanEnabled": False, "Actions": []}
    assert error_code(v1.create_receipt_rule, RuleSetName="set", Rule={"Name": "one", "Enabled": True}) == (
        "AlreadyExists"
    )
    assert error_code(v1.create_receipt_rule, RuleSetName="set", Rule={"Name": "x"}, After="nope") == (
        "RuleDoesNotExist"
    )
    assert error_code(v1.create_receipt_rule, RuleSetName="nope", Rule={"Name": "x"}) == "RuleSetDoesNotExist"
    assert error_code(v1.describe_receipt_rule, RuleSetName="set", RuleName="nope") == "RuleDoesNotExist"
    for recipients in (["not an address"], ["@example.org"], ["me@.example.org"]):
        code = error_code(v1.create_receipt_rule, RuleSetName="set", Rule={"Name": "x", "Recipients": recipients})
        assert code == "InvalidParameterValue", recipients
    many = [f"user{i}@example.org" for i in range(101)]
    assert error_code(v1.create_receipt_rule, RuleSetName="set", Rule={"Name": "x", "Recipients": many}) == (
        "LimitExceeded"
    )
    v1.create_receipt_rule(RuleSetName="set", Rule={"Name": "x", "Recipients": ["a@example.org", ".example.net"]})


def test_delete_receipt_rule(ses):
    v1 = ses("ses")
    v1.create_receipt_rule_set(RuleSetName="set")
    v1.create_receipt_rule(RuleSetName="set", Rule={"Name": "one"})
    v1.create_receipt_rule(RuleSetName="set", Rule={"Name": "two"})
    v1.delete_receipt_rule(RuleSetName="set", RuleName="one")
    assert [r["Name"] for r in v1.describe_receipt_rule_set(RuleSetName="set")["Rules"]] == ["two"]
    v1.delete_receipt_rule(RuleSetName="set", RuleName="one")  # an unknown rule is not an error
    assert error_code(v1.delete_receipt_rule, RuleSetName="nope", RuleName="two") == "RuleSetDoesNotExist"


def verification_link(raw):
    """The verification link of a stored message, read as a mail client reads it."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    text = message.get_body(("plain",)).get_content()
    (link,) = [line for line in text.splitlines() if "Operation=ConfirmVerification" in line]
    return message, link


def follow(url):
    """GET url following redirects: (final status, final URL)."""
    try:
        with urllib.request.urlopen(url) as response:
            return response.status, response.url
    except urllib.error.HTTPError as failure:
        return failure.code, url


def test_verification_mail_is_stored_and_its_link_verifies_the_address(ses, control, receiving, endpoint, account):
    v1, keys, message = receiving()
    link_base = f"{endpoint}/_ocp_aws_test/verify-link"
    assert control("verification-mail", EmailIdentity="me@example.org", LinkBase=link_base) == (200, {})
    ses().create_email_identity(EmailIdentity="me@example.org")
    assert read(ses(), "me@example.org")["VerificationStatus"] == "PENDING"
    attributes = v1.get_identity_verification_attributes(Identities=["me@example.org"])["VerificationAttributes"]
    assert attributes == {"me@example.org": {"VerificationStatus": "Pending"}}
    (key,) = keys()
    raw = message(key)
    assert b"\r\n" in raw and b"=3D" in raw and b"=\r\n" in raw  # quoted-printable, soft line breaks
    mail, link = verification_link(raw)
    assert b'From: "Amazon Web Services" <no-reply-aws@amazon.com>\r\n' in raw
    assert mail["Subject"] == "Amazon Web Services \u2013 Email Address Verification Request in region US East (N. Virginia)"
    for header in ("Return-Path", "Received", "X-SES-Spam-Verdict", "X-SES-Virus-Verdict", "Received-SPF",
                   "Authentication-Results", "X-SES-RECEIPT", "DKIM-Signature"):
        assert mail[header], header
    assert "d=amazon.com" in " ".join(str(v) for v in mail.get_all("DKIM-Signature"))
    assert mail.get_content_type() == "multipart/alternative"
    html_part = mail.get_body(("html",)).get_content()
    assert link.replace("&", "&amp;") in html_part
    split = urlsplit(link)
    query = parse_qs(split.query)
    assert f"{split.scheme}://{split.netloc}{split.path}" == link_base
    assert query["Context"] == [account] and query["Identity.IdentityName"] == ["me@example.org"]
    assert re.fullmatch(r"[0-9a-f]{64}", query["X-Amz-Signature"][0])
    assert control("verification-mail-status", EmailIdentity="me@example.org") == (
        200, {"Sent": 1, "Delivered": 1, "Followed": 0}
    )

    assert follow(link) == (200, f"{endpoint}/_ocp_aws_test/verify-link/done")
    assert read(ses(), "me@example.org")["VerificationStatus"] == "SUCCESS"
    assert follow(link)[0] == 400  # used
    assert control("verification-mail-status", EmailIdentity="me@example.org")[1]["Followed"] == 1


def test_verification_mail_is_resent_and_only_the_latest_link_counts(ses, control, receiving, endpoint):
    v1, keys, message = receiving(recipients=["example.org"])
    link_base = f"{endpoint}/_ocp_aws_test/verify-link"
    control("verification-mail", EmailIdentity="me@example.org", LinkBase=link_base)
    v1.verify_email_identity(EmailAddress="me@example.org")
    (first,) = keys()
    v1.verify_email_address(EmailAddress="me@example.org")
    (second,) = [key for key in keys() if key != first]
    old_link, new_link = verification_link(message(first))[1], verification_link(message(second))[1]
    assert old_link != new_link
    wrong = re.sub(r"X-Amz-Signature=[0-9a-f]+", "X-Amz-Signature=" + "0" * 64, new_link)
    for link in (old_link, wrong):
        assert follow(link)[0] == 400
    assert read(ses(), "me@example.org")["VerificationStatus"] == "PENDING"
    assert control("verification-mail-status", EmailIdentity="me@example.org")[1] == {
        "Sent": 2, "Delivered": 2, "Followed": 0
    }
    assert follow(new_link)[0] == 200
    assert read(ses(), "me@example.org")["VerificationStatus"] == "SUCCESS"
    # A deleted identity must be verified again.
    ses().delete_email_identity(EmailIdentity="me@example.org")
    ses().create_email_identity(EmailIdentity="me@example.org")
    assert read(ses(), "me@example.org")["VerificationStatus"] == "PENDING"


@pytest.mark.parametrize(
    "recipients, enabled, activate, stored",
    [
        (["me@example.org"], True, True, True),
        (["example.org"], True, True, True),
        ([".org"], True, True, True),
        ([], True, True, True),
        (["you@example.org"], True, True, False),
        (["mail.example.org"], True, True, False),
        (["me@example.org"], False, True, False),
        (["me@example.org"], True, False, False),
    ],
)
def test_verification_mail_is_stored_only_when_an_active_rule_covers_the_address(
    ses, control, receiving, recipients, enabled, activate, stored
):
    _, keys, _ = receiving(recipients=recipients, enabled=enabled, activate=activate)
    control("verification-mail", EmailIdentity="me@example.org")
    ses().create_email_identity(EmailIdentity="me@example.org")
    assert len(keys()) == int(stored)
    assert control("verification-mail-status", EmailIdentity="me@example.org")[1] == {
        "Sent": 1, "Delivered": int(stored), "Followed": 0
    }


def test_the_default_link_base_is_aws_verification_host(ses, control, receiving):
    _, keys, message = receiving()
    control("verification-mail", EmailIdentity="me@example.org", Region="us-east-1")
    ses().create_email_identity(EmailIdentity="me@example.org")
    link = verification_link(message(keys()[0]))[1]
    assert link.startswith("https://email-verification.us-east-1.amazonaws.com/?Context=")


def test_unarmed_addresses_are_verified_at_once_and_nothing_is_sent(ses, receiving):
    _, keys, _ = receiving()
    ses().create_email_identity(EmailIdentity="me@example.org")
    assert read(ses(), "me@example.org")["VerificationStatus"] == "SUCCESS"
    assert keys() == []


def test_verification_controls_refuse_bad_bodies(control):
    assert control("verification-mail", EmailIdentity="example.org")[0] == 400
    assert control("verification-mail", EmailIdentity="me@example.org", LinkBase="ftp://x/")[0] == 400
    assert control("verification-mail-status", EmailIdentity="never@example.org")[0] == 400
    assert control("delivery-authentication", Recipient="me@example.org", Dkim="maybe")[0] == 400
    assert control("delivery-authentication", Dkim="fail")[0] == 400


def authentication_of(raw):
    message = email.message_from_bytes(raw, policy=email.policy.default)
    results = " ".join(str(message["Authentication-Results"]).split())
    signers = [re.search(r"\bd=([^;\s]+)", str(v)).group(1) for v in message.get_all("DKIM-Signature") or []]
    return message, results, signers


def test_sent_mail_from_a_domain_with_dkim_and_mail_from_is_delivered_aligned(ses, control, receiving):
    _, keys, message = receiving()
    client = ses()
    client.create_email_identity(EmailIdentity="example.com")
    client.put_email_identity_mail_from_attributes(EmailIdentity="example.com", MailFromDomain="bounce.example.com")
    control("mail-from-status", EmailIdentity="example.com", Status="SUCCESS")
    client.send_email(
        FromEmailAddress="noreply@example.com",
        Destination={"ToAddresses": ["me@example.org"], "CcAddresses": ["other@example.net"]},
        Content={"Simple": {"Subject": {"Data": "DMARC check"}, "Body": {"Text": {"Data": "Hello."}}}},
    )
    (key,) = keys()  # only the covered recipient's copy
    mail, results, signers = authentication_of(message(key))
    token = read(client, "example.com")["DkimAttributes"]["Tokens"][0]
    assert signers == ["example.com", "amazonses.com"]
    assert f"s={token};" in str(mail.get_all("DKIM-Signature")[0])
    assert "smtp.mailfrom=bounce.example.com;" in results
    assert "dkim=pass header.i=@example.com; dkim=pass header.i=@amazonses.com;" in results
    assert results.endswith("dmarc=pass header.from=example.com;")
    assert mail["Return-Path"].endswith("@bounce.example.com>")
    assert mail["Subject"] == "DMARC check" and mail.get_content().strip() == "Hello."


def test_sent_mail_without_domain_dkim_has_only_the_amazonses_signature(ses, control, receiving):
    _, keys, message = receiving()
    v1 = ses("ses")
    v1.verify_email_identity(EmailAddress="sender@example.com")  # an address, no domain identity
    raw = "From: sender@example.com\nTo: me@example.org\nSubject: raw\nMIME-Version: 1.0\n\nBody.\n"
    v1.send_raw_email(RawMessage={"Data": raw})
    mail, results, signers = authentication_of(message(keys()[0]))
    assert signers == ["amazonses.com"]
    assert "smtp.mailfrom=amazonses.com;" in results and mail["Return-Path"].endswith("@amazonses.com>")
    assert results.endswith("dmarc=fail header.from=example.com;")
    assert mail["Subject"] == "raw"


def test_a_domain_whose_dkim_is_pending_does_not_sign(ses, control, receiving):
    _, keys, message = receiving()
    control("identity-status", EmailIdentity="example.com", Status="PENDING")
    ses().create_email_identity(EmailIdentity="example.com")
    ses("ses").send_email(
        Source="noreply@example.com",
        Destination={"ToAddresses": ["me@example.org"]},
        Message={"Subject": {"Data": "v1"}, "Body": {"Text": {"Data": "Hello."}}},
    )
    _, results, signers = authentication_of(message(keys()[0]))
    assert signers == ["amazonses.com"] and "dmarc=fail" in results


def test_delivery_authentication_control_overrides_the_verdicts(ses, control, receiving):
    _, keys, message = receiving()
    ses().create_email_identity(EmailIdentity="example.com")
    assert control("delivery-authentication", Recipient="Me@example.org", Dkim="fail", Dmarc="fail") == (200, {})

    def send():
        ses().send_email(
            FromEmailAddress="noreply@example.com",
            Destination={"ToAddresses": ["me@example.org"]},
            Content={"Raw": {"Data": b"From: noreply@example.com\r\nTo: me@example.org\r\nSubject: x\r\n\r\nx\r\n"}},
        )

    send()
    _, results, signers = authentication_of(message(keys()[0]))
    assert signers == ["example.com", "amazonses.com"]
    assert "dkim=fail header.i=@example.com; dkim=fail header.i=@amazonses.com;" in results
    assert "spf=pass" in results and "dmarc=fail" in results
    control("delivery-authentication", Recipient="me@example.org", Dkim="none", Spf="none")
    first = keys()
    send()
    (key,) = [k for k in keys() if k not in first]
    _, results, signers = authentication_of(message(key))
    assert signers == [] and "dkim=none;" in results and "spf=none" in results and "dmarc=fail" in results


def test_a_line_break_in_a_subject_does_not_make_a_header(ses, receiving):
    _, keys, message = receiving()
    ses("ses").verify_email_identity(EmailAddress="sender@example.com")
    ses("ses").send_email(
        Source="sender@example.com",
        Destination={"ToAddresses": ["me@example.org"]},
        Message={"Subject": {"Data": "Hi\r\nAuthentication-Results: amazonses.com; dmarc=pass"}, "Body": {"Text": {"Data": "x"}}},
    )
    mail = email.message_from_bytes(message(keys()[0]), policy=email.policy.default)
    assert len(mail.get_all("Authentication-Results")) == 1
    assert mail["Subject"].startswith("Hi ")
