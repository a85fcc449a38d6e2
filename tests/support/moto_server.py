"""The moto server the tests run: moto 5.2.5 plus the SES v2 behaviour ocp-aws needs, SES receiving
(receipt rules, mail delivered to S3, verification links), refusing what AWS refuses.

Usage (every option is moto_server's)::

    python tests/support/moto_server.py -H 127.0.0.1 -p PORT

It patches moto in this process, then runs ``moto.server.main()``. Everything else is plain moto.
It refuses to start with another moto version than the one the patches were written against.

Every signed request, to any service, is checked against botocore's model of its operation before
moto sees it (aws_model.py beside this file says how, and what it does not cover). A request AWS
would refuse for its parameters (a missing required member, a string or list out of its length
range, a value outside its enum or pattern) gets AWS's 400 in the service's protocol: ValidationError
(query), InvalidParameterValue (EC2), InvalidArgument (S3), or the operation's modelled
BadRequestException / ValidationException (JSON); the refusal is logged on stderr and recorded.

moto's request recorder runs from the start (the recording file is in the working directory).

IAM ``DeletePolicy`` of a policy that is still attached, or that has versions besides the default,
fails with 409 DeleteConflict, as on AWS (moto deletes it).

Patched and added SES v2 routes (REST-JSON, shapes as in the AWS SES API v2 reference; timestamps
are epoch-seconds numbers, which is what the AWS SDK for Rust accepts):

``CreateEmailIdentity`` (POST /v2/email/identities)
    moto replaces an existing identity silently; AWS answers 400 AlreadyExistsException, and so
    does this. A domain identity gets three random DKIM tokens here, kept for its lifetime. The DKIM
    key length is ``DkimSigningAttributes.NextSigningKeyLength`` or RSA_2048_BIT.
``GetEmailIdentity`` (GET /v2/email/identities/{EmailIdentity})
    moto never returns DKIM tokens or MAIL FROM attributes, keeps VerifiedForSendingStatus false
    while VerificationStatus is SUCCESS, and sends LastKeyGenerationTimestamp as an ISO string
    (which the Rust SDK rejects). This returns IdentityType, FeedbackForwardingStatus,
    VerifiedForSendingStatus, VerificationStatus, DkimAttributes (SigningEnabled, Status, Tokens,
    SigningAttributesOrigin, NextSigningKeyLength, CurrentSigningKeyLength,
    LastKeyGenerationTimestamp), MailFromAttributes, Policies, Tags and ConfigurationSetName.
    FeedbackForwardingStatus is moto's SES v1 setting (true unless turned off, as on AWS).
    An email-address identity has no DKIM keys of its own: SigningEnabled false, NOT_STARTED.
    Only Easy DKIM is modelled: bring-your-own keys (EXTERNAL) get tokens and key lengths too.
    Statuses are SUCCESS unless a test control says otherwise (see below), except a MAIL FROM
    domain's: PENDING, as on AWS until SES finds its MX record, until a control says otherwise.
``DeleteEmailIdentity`` (DELETE /v2/email/identities/{EmailIdentity})
    moto answers 200 for an unknown identity; AWS answers 404 NotFoundException. Deleting also
    drops the identity's MAIL FROM settings and tags.
``PutEmailIdentityDkimSigningAttributes`` (PUT /v2/email/identities/{EmailIdentity}/dkim/signing)
    Missing in moto. Sets the key length (next and current) and the key generation time; answers
    {DkimStatus, DkimTokens}.
``PutEmailIdentityMailFromAttributes`` (PUT /v2/email/identities/{EmailIdentity}/mail-from)
    Missing in moto. Sets or, with no MailFromDomain, removes the MAIL FROM domain and sets
    BehaviorOnMxFailure. Stored where moto's SES v1 keeps it, so both APIs agree.
``GetAccount`` (GET /v2/email/account)
    Missing in moto. A new account (per account id and region) is in the sandbox: quota 200 a day,
    1 a second, suppression of BOUNCE and COMPLAINT; Details only after PutAccountDetails.
``PutAccountSuppressionAttributes`` (PUT /v2/email/account/suppression)
    Missing in moto.
``PutAccountDetails`` (POST /v2/email/account/details)
    Missing in moto. MailType and WebsiteURL are required (400 BadRequestException). With
    ProductionAccessEnabled true it opens a review: ReviewDetails {Status PENDING, CaseId}; without
    it the details are only stored. While a review is pending, a new call fails with 409
    ConflictException, as on AWS.
``GetConfigurationSet`` (GET /v2/email/configuration-sets/{ConfigurationSetName})
    moto nests SendingOptions.SendingEnabled as an object, which the Rust SDK cannot read, and
    sends empty option objects; this returns the documented shape (an unknown name: 404
    NotFoundException, as in moto).

``GetConfigurationSetEventDestinations``, ``CreateConfigurationSetEventDestination``
(GET/POST /v2/email/configuration-sets/{ConfigurationSetName}/event-destinations),
``UpdateConfigurationSetEventDestination``, ``DeleteConfigurationSetEventDestination``
(PUT/DELETE .../event-destinations/{EventDestinationName})
    Missing in moto. Kept on the configuration set. Creating a name that exists: 400
    AlreadyExistsException; updating or deleting one that does not, or any of them on an unknown
    configuration set: 404 NotFoundException.
``PutConfigurationSetSendingOptions`` (PUT .../sending), ``PutConfigurationSetReputationOptions``
(PUT .../reputation-options), ``PutConfigurationSetDeliveryOptions`` (PUT .../delivery-options),
``PutConfigurationSetSuppressionOptions`` (PUT .../suppression-options)
    Missing in moto. Set what GetConfigurationSet returns.
``PutEmailIdentityConfigurationSetAttributes`` (PUT /v2/email/identities/{EmailIdentity}/configuration-set)
    Missing in moto. Sets (or, with no ConfigurationSetName, removes) the identity's default
    configuration set; an unknown identity or configuration set: 404 NotFoundException.

Patched SES v1 (query protocol):

``SetIdentityHeadersInNotificationsEnabled``
    Missing in moto (500). Stores the flag of one notification type.
``GetIdentityNotificationAttributes``
    moto never returns the topics and hard-codes the header flags false; this returns BounceTopic,
    ComplaintTopic, DeliveryTopic (when set), ForwardingEnabled and the three header flags.
``SetIdentityNotificationTopic``
    moto fails (500) when clearing a topic that was never set; AWS accepts it.
``GetIdentityVerificationAttributes``
    moto says Success for every identity; this gives the status SES v2 shows (Pending, Success,
    Failed, TemporaryFailure, with the test controls and armed addresses), a token only for domains.

SES v1 receiving (query protocol), checked against the SES API reference:

``CreateReceiptRuleSet``, ``DescribeReceiptRuleSet``, ``ListReceiptRuleSets`` (by name),
``SetActiveReceiptRuleSet`` (no name: none active), ``DescribeActiveReceiptRuleSet`` (none active:
an empty answer, not an error), ``DeleteReceiptRuleSet`` (the active set: 400 CannotDelete; an
unknown name: success), ``DescribeReceiptRule``
    moto's, measured to match the reference.
``CreateReceiptRule``
    moto's (rule set exists, After names a rule, without After the rule goes first, names), plus
    what moto lets through: a name already in the set (AlreadyExists; moto only refused an identical
    rule), more than 100 recipients or 200 rules (LimitExceeded), a recipient that is neither an
    address, a domain nor a ``.domain`` (InvalidParameterValue), and an S3 action whose bucket
    policy does not let SES write (InvalidS3Configuration "Could not write to bucket: B"): an Allow
    for the ``ses.amazonaws.com`` service principal (or ``*``) on ``s3:PutObject`` (wildcards as
    IAM's) whose Resource covers ``arn:aws:s3:::B/PREFIX...``, with conditions (StringEquals,
    StringLike, ArnEquals, ArnLike) on ``aws:SourceAccount``, ``aws:SourceArn`` (the rule's ARN
    ``arn:aws:ses:REGION:ACCOUNT:receipt-rule-set/SET:receipt-rule/RULE``) or ``aws:Referer``
    holding, and no such Deny (an action with IamRoleArn writes through the role: not checked).
    The rule is stored with AWS's defaults (Enabled false, TlsPolicy Optional, ScanEnabled false,
    Actions []), and, as AWS does, SES writes ``PREFIX + AMAZON_SES_SETUP_NOTIFICATION`` into each
    S3 action's bucket: a client polling the prefix for mail must skip that object.
``DeleteReceiptRule``
    Missing in moto (500). An unknown rule set: 400 RuleSetDoesNotExist; an unknown rule: success
    (the reference lists no error for it).

Mail SES sends, delivered to the account's receiving rules (in the same account and region):
an ACTIVE rule set's enabled rules, in order, that cover a recipient (its address, its domain, a
parent written ``.domain``, or a rule without recipients) have each S3 action, up to a StopAction,
store the message as ``ObjectKeyPrefix + <message id>`` (40 random characters) through moto's S3
backend, when the bucket policy still lets SES write. Without such a rule nothing is stored (on
AWS the mail goes to the domain's MX elsewhere). Every stored message is what SES inbound stores:
Return-Path, Received, X-SES-Spam-Verdict, X-SES-Virus-Verdict, Received-SPF,
Authentication-Results (``amazonses.com; spf=R (...) ... smtp.mailfrom=D; dkim=R header.i=@D;
...; dmarc=R header.from=D;``, folded), X-SES-RECEIPT, then the DKIM-Signature headers SES added
when sending, then the message as sent (CRLF line ends).

``VerifyEmailIdentity``, ``VerifyEmailAddress`` (SES v1) and ``CreateEmailIdentity`` (SES v2)
    moto's, and, for an address armed with the ``verification-mail`` control, a verification mail:
    From "Amazon Web Services" <no-reply-aws@amazon.com>, Subject "Amazon Web Services –
    Email Address Verification Request in region <region name>" (RFC 2047), multipart/alternative
    with text/plain and text/html parts in quoted-printable (soft line breaks, ``=3D``; the html
    link's ``&`` written ``&amp;``), holding the link ``<LinkBase>?Context=<account>&X-Amz-Date=
    ...&Identity.IdentityName=<address, percent-encoded>&X-Amz-Signature=<64 hex digits>&Identity.
    IdentityType=EmailAddress&Namespace=Bacon&Operation=ConfirmVerification``, signed d=amazon.com
    and d=amazonses.com, all verdicts pass. Each send makes a new token; only the latest link works.
    The v1 calls re-send for an existing identity; v2's create does not (AlreadyExists).
``SendEmail`` (v1, and v2's Simple content), ``SendRawEmail`` (v1, and v2's Raw content)
    moto's (the From address or its domain must be an identity, as moto requires), then delivery
    to each To, Cc and Bcc recipient as above. moto keeps one body of a simple message (the HTML
    one when both are given), so a body starting with ``<`` is stored as text/html. The
    authentication follows the sender's identities: DKIM-Signature d=<From domain>
    s=<the identity's first DKIM token> when the From domain (or a parent domain) is a domain
    identity whose status is SUCCESS (signing is always enabled here), and always d=amazonses.com;
    SPF passes for the MAIL FROM domain of the address's identity, else its domain's, when that
    domain's status is SUCCESS (Return-Path ``<...@bounce.example.com>``), else for amazonses.com
    (``<...@amazonses.com>``); DMARC passes when a passing DKIM signature's d= or the SPF domain
    has the From domain's organizational domain (relaxed alignment: the last two labels, three
    under co/com/org/net/ac/gov/edu of a two-letter country code), else fails. The
    ``delivery-authentication`` control overrides these verdicts per recipient.

Patched SNS:

``ListSubscriptionsByTopic``
    moto confirms every subscription at once. A subscription to an endpoint armed with the
    ``subscription-pending`` control is listed with SubscriptionArn ``PendingConfirmation``, as AWS
    lists one that waits for its confirmation link, and ``Unsubscribe`` of it fails (as on AWS,
    where it has no ARN to give).
``SetTopicAttributes``
    moto accepts any AttributeName; AWS answers 400 InvalidParameter for one it does not know.

Patched RDS (query protocol), for PostgreSQL:

``DescribeDBEngineVersions``
    Missing in moto (500). Answers a realistic list of PostgreSQL versions (``POSTGRES_VERSIONS``,
    two minors of each major from 13 to 17), filtered by Engine, EngineVersion and DefaultOnly
    (the default: the newest).
``DescribeOrderableDBInstanceOptions``
    moto answers an empty list. For postgres: every listed version on each class of
    ``ORDERABLE_CLASSES``, filtered by EngineVersion and DBInstanceClass.
``CreateDBInstance``, ``ModifyDBInstance``, ``DeleteDBInstance``
    moto accepts what AWS refuses; these check, as AWS does, before moto sees the request: a
    postgres EngineVersion AWS does not offer (400 InvalidParameterCombination "Cannot find
    version ..."); a master password shorter than 8 or longer than 128 characters, or with ``/``,
    ``"``, ``@`` or a space (400 InvalidParameterValue); storage below 20 GiB for postgres; a
    downgrade, or a major upgrade without AllowMajorVersionUpgrade; a delete without
    SkipFinalSnapshot or FinalDBSnapshotIdentifier (400 InvalidParameterCombination).
``DescribeDBInstances``
    An instance armed with the ``db-instance-status`` control shows the armed statuses, one per
    read, before its own; while ``creating`` it has no Endpoint, as on AWS.

Patched EC2:

``DeleteSecurityGroup``
    moto deletes a group that a DB instance still uses; AWS answers 400 DependencyViolation, and
    so does this.

Patched STS:

``GetCallerIdentity``
    moto answers whatever secret signed the request. For an access key of a user in moto's IAM,
    this checks the SigV4 signature with the key's secret, as AWS does: another secret gets 403
    SignatureDoesNotMatch, an inactive key 403 InvalidClientTokenId. Keys moto's IAM does not hold
    (the tests' own credentials) are answered as moto answers them.

Errors are sent as AWS sends REST-JSON errors: the status code, the header
``x-amzn-ErrorType: <Code>`` and the body ``{"message": "..."}``.

Left as moto has them (ocp-aws does not use them yet): a duplicate CreateConfigurationSet fails
with ConfigurationSetAlreadyExistsException (AWS: AlreadyExistsException); DeleteConfigurationSet
of an unknown name answers 500; moto tags
an identity under ``...:email-identity/NAME`` where AWS's ARN is ``...:identity/NAME``.

Test controls (not AWS APIs; under /_ocp_aws_test/, a path no AWS API uses; unsigned JSON POSTs).
Each takes an optional "AccountId" (default: the x-moto-account-id header, else moto's default
account) and "Region" (default us-east-1), and answers 200 {} or 400 {"message": ...}:

``POST /_ocp_aws_test/identity-status``
    ``{"EmailIdentity": "example.com", "PendingReads": 2, "Status": "SUCCESS",
    "MailFromPendingReads": 1, "MailFromStatus": "SUCCESS"}`` (all but EmailIdentity optional;
    counts default to 0, statuses to SUCCESS). The identity's VerificationStatus and DKIM Status
    are PENDING for its next PendingReads GetEmailIdentity reads, then Status (SUCCESS, FAILED,
    TEMPORARY_FAILURE, or PENDING for ever). Likewise its MailFromDomainStatus for the next
    MailFromPendingReads reads that find a MAIL FROM domain set, then MailFromStatus (default
    PENDING). An address armed by ``verification-mail`` stays PENDING until its link is followed. The
    identity need not exist yet: a test arms it before the tool creates it. The setting replaces
    any earlier one for that name and lasts until the next one or /moto-api/reset.
``POST /_ocp_aws_test/mail-from-status``
    ``{"EmailIdentity": "example.com", "Status": "SUCCESS", "PendingReads": 0}``: SES found (SUCCESS)
    or gave up on (FAILED, TEMPORARY_FAILURE) the MAIL FROM domain's MX record after PendingReads
    more reads; the identity's own status settings are kept.
``POST /_ocp_aws_test/recorded-operations``
    ``{"AccessKeyId": "AKIA..."}`` (optional): answers ``{"Operations": [{"AccessKeyId", "Service",
    "Operation", "Read", "Method", "Path"}, ...]}``, moto's recording in order, each request named by
    the model's serviceId and operation (None when no model names it) and classified as a read
    (Get/List/Head/Describe; without an operation, GET or HEAD), only those signed with that access
    key id when one is given. Parallel tests each sign with their own key id.
``POST /_ocp_aws_test/account-review``
    ``{"Status": "GRANTED"}`` or ``{"Status": "DENIED"}``: ends the account's review. GRANTED
    gives production access (ProductionAccessEnabled true, quota 50000 a day, 14 a second), also
    when no details were ever put; DENIED needs put details and leaves the sandbox as it is.

``POST /_ocp_aws_test/subscription-pending``
    ``{"Endpoint": "data@example.org", "ConfirmAfterReads": 2}`` (ConfirmAfterReads optional, default
    never): SNS subscriptions made to that endpoint from now on stay pending confirmation, and are
    confirmed after that many ListSubscriptionsByTopic reads that list them. In the account and
    region's SNS backend.

``POST /_ocp_aws_test/db-instance-status``
    ``{"DBInstanceIdentifier": "analysis", "Statuses": ["creating", "creating", "backing-up"]}``:
    the next DescribeDBInstances reads that find that instance show these statuses, one per read,
    then its own (``available``). Armed before the instance is created, in the account and region's
    RDS backend; a new setting replaces the old.

``POST /_ocp_aws_test/verification-mail``
    ``{"EmailIdentity": "me@example.org", "LinkBase": "http://127.0.0.1:PORT/_ocp_aws_test/verify-link"}``
    (LinkBase optional, default ``https://email-verification.<Region>.amazonaws.com/``): arms the
    address. From then on that email-address identity (also one created later, or created again
    after a delete) is PENDING until its link is followed, and every verification send for it
    sends a mail (see above). Unarmed addresses are verified at once, as moto does. Arming again
    starts over (counters at 0, not verified).
``POST /_ocp_aws_test/verification-mail-status``
    ``{"EmailIdentity": "me@example.org"}``: answers ``{"Sent": n, "Delivered": n, "Followed": n}``
    (mails sent, mails stored in a bucket, links followed); 400 for an address never armed.
``GET /_ocp_aws_test/verify-link?...`` (the link of a verification mail, with LinkBase pointing here)
    With the latest mail's X-Amz-Signature (and its Context and Identity.IdentityName): the
    identity is verified (SUCCESS) and the answer is 302 to ``/_ocp_aws_test/verify-link/done``
    (200, a small HTML page), so a client must follow a redirect. A wrong, older or used token:
    400 and an HTML error page, and nothing is verified.
``POST /_ocp_aws_test/delivery-authentication``
    ``{"Recipient": "me@example.org", "Dkim": "fail", "Spf": "none", "Dmarc": "fail"}`` (each verdict
    optional; ``pass``, ``fail`` or ``none``): mail delivered to that recipient from now on carries
    these verdicts instead of the ones its sender's identities give. Dkim applies to every
    signature; ``none`` leaves the DKIM-Signature headers out and writes ``dkim=none``. A new
    setting replaces the old.

State lives in moto's per-account, per-region backend objects (identities in the SES backend,
account settings and test controls on the SES v2 backend), so accounts and regions stay apart and
``POST /moto-api/reset`` clears everything.
"""

import base64
import datetime
import email
import email.charset
import email.header
import email.utils
import hashlib
import html
import io
import json
import os
import quopri
import random
import re
import secrets
import string
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from urllib.parse import parse_qs, quote, unquote, urlsplit

import moto
import moto.backends
import moto.server
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.exceptions import SignatureDoesNotMatchError
from moto.core.responses import ActionResult, EmptyResult
from moto.core.request import Request as MotoRequest
from moto.iam.exceptions import DeleteConflictException
from moto.iam.access_control import IAMRequest
from moto.iam.models import IAMBackend, get_account_id_from, iam_backends
from moto.moto_api import recorder
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.ec2.exceptions import EC2ClientError
from moto.ec2.models.security_groups import SecurityGroupBackend
from moto.rds.exceptions import RDSClientError
from moto.rds.models import rds_backends
from moto.rds.responses import RDSResponse
from moto.s3.models import s3_backends
from moto.ses.exceptions import (
    AlreadyExists,
    InvalidParameterValue,
    InvalidS3ConfigurationException,
    RuleSetDoesNotExist,
    SesError,
)
from moto.ses.models import SESBackend
from moto.ses.utils import get_arn
from moto.ses.responses import EmailResponse
from moto.sesv2 import urls as sesv2_urls
from moto.sns.exceptions import SNSInvalidParameter
from moto.sns.models import SNSBackend, sns_backends
from moto.sns.responses import SNSResponse
from moto.sesv2.models import SESV2Backend, sesv2_backends
from moto.sesv2.responses import SESV2Response
from moto.sts.responses import TokenResponse
from moto.utilities.utils import get_partition
from werkzeug.wrappers import Request, Response

import aws_model

MOTO_VERSION = "5.2.5"
CONTROL_PREFIX = "/_ocp_aws_test/"
DEFAULT_REGION = "us-east-1"

KEY_LENGTHS = ("RSA_1024_BIT", "RSA_2048_BIT")
DEFAULT_KEY_LENGTH = "RSA_2048_BIT"
MX_FAILURE_BEHAVIORS = ("USE_DEFAULT_VALUE", "REJECT_MESSAGE")
# moto's SES v1 spells BehaviorOnMXFailure differently; MAIL FROM settings are stored its way.
MX_FAILURE_V1 = {"USE_DEFAULT_VALUE": "UseDefaultValue", "REJECT_MESSAGE": "RejectMessage"}
MX_FAILURE_V2 = {v1: v2 for v2, v1 in MX_FAILURE_V1.items()}
SUPPRESSION_REASONS = ("BOUNCE", "COMPLAINT")
MAIL_TYPES = ("MARKETING", "TRANSACTIONAL")
CONTACT_LANGUAGES = ("EN", "JA")
ACCOUNT_DETAILS = (
    "MailType",
    "WebsiteURL",
    "ContactLanguage",
    "UseCaseDescription",
    "AdditionalContactEmailAddresses",
)
# Settable final statuses of the identity-status control (PENDING means pending for ever).
CONTROL_STATUSES = ("SUCCESS", "FAILED", "TEMPORARY_FAILURE", "PENDING")
SANDBOX_QUOTA = {"Max24HourSend": 200.0, "MaxSendRate": 1.0}
PRODUCTION_QUOTA = {"Max24HourSend": 50000.0, "MaxSendRate": 14.0}

# The server is threaded; read counters and account state change under this lock.
LOCK = threading.RLock()


# --- State moto does not keep --------------------------------------------------------------------


@dataclass
class DkimKeys:
    """An identity's DKIM settings; kept on moto's EmailIdentity object as ``ocp_aws_dkim``."""

    tokens: list[str]
    origin: str = "AWS_SES"
    next_key_length: str = DEFAULT_KEY_LENGTH
    current_key_length: str = DEFAULT_KEY_LENGTH
    generated_at: float = field(default_factory=lambda: round(time.time(), 3))


@dataclass
class StatusControl:
    """What the identity-status control set for one identity name."""

    pending_reads: int = 0
    status: str = "SUCCESS"
    mail_from_pending_reads: int = 0
    # AWS keeps a MAIL FROM domain PENDING until it finds the MX record: only a test says it did.
    mail_from_status: str = "PENDING"


@dataclass
class AccountState:
    """SES account settings of one account in one region; kept on the SES v2 backend."""

    production_access: bool = False
    suppressed_reasons: list[str] = field(default_factory=lambda: list(SUPPRESSION_REASONS))
    details: dict | None = None
    identity_controls: dict[str, StatusControl] = field(default_factory=dict)
    # Addresses armed by the verification-mail control, and the delivery-authentication overrides
    # (lower-cased recipient -> {"Dkim"|"Spf"|"Dmarc": verdict}).
    verification_mails: dict[str, "VerificationMail"] = field(default_factory=dict)
    delivery_overrides: dict[str, dict] = field(default_factory=dict)


@dataclass
class VerificationMail:
    """An address armed by the verification-mail control: its link and what happened to its mails."""

    link_base: str
    token: str | None = None  # the latest mail's X-Amz-Signature; None once followed
    verified: bool = False
    sent: int = 0
    delivered: int = 0
    followed: int = 0


def account_state(backend: SESV2Backend) -> AccountState:
    """The AccountState of a backend, created on first use (moto's reset drops it)."""
    with LOCK:
        if not hasattr(backend, "ocp_aws_account"):
            backend.ocp_aws_account = AccountState()
        return backend.ocp_aws_account


def random_token(length: int = 32) -> str:
    return "".join(random.choices(string.ascii_lowercase + string.digits, k=length))


def random_case_id() -> str:
    return "".join(random.choices(string.digits, k=10))


def dkim_keys(identity, signing: dict | None = None) -> DkimKeys:
    """The DkimKeys of a moto identity, made at creation (or on first read for SES v1 ones)."""
    if not hasattr(identity, "ocp_aws_dkim"):
        length = (signing or {}).get("NextSigningKeyLength") or DEFAULT_KEY_LENGTH
        domain = identity.identity_type == "DOMAIN"
        identity.ocp_aws_dkim = DkimKeys(
            tokens=[random_token() for _ in range(3)] if domain else [],
            next_key_length=length,
            current_key_length=length,
        )
    return identity.ocp_aws_dkim


# --- Responses -----------------------------------------------------------------------------------


def ok(body: dict) -> tuple[str, dict]:
    return json.dumps(body), {"status": 200, "Content-Type": "application/json"}


def error(status: int, code: str, message: str) -> tuple[str, dict]:
    headers = {"status": status, "Content-Type": "application/json", "x-amzn-ErrorType": code}
    return json.dumps({"message": message}), headers


def not_found(kind: str, name: str) -> tuple[str, dict]:
    return error(404, "NotFoundException", f"{kind} {name} does not exist.")


def bad_request(message: str) -> tuple[str, dict]:
    return error(400, "BadRequestException", message)


def request_body(response: SESV2Response) -> dict:
    try:
        body = json.loads(response.body or "{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def uri_param(response: SESV2Response, name: str) -> str:
    """A label of the request URI, percent-decoded (moto's router matched it)."""
    return response.uri_match[name]


def find_identity(response: SESV2Response, name: str):
    return response.sesv2_backend.core_backend.email_identities.get(name)


def identity_statuses(backend: SESV2Backend, identity, consume: bool) -> tuple[str, str | None]:
    """(VerificationStatus, MailFromDomainStatus or None) of an identity, per the test control.

    A GetEmailIdentity read consumes one pending read of each counter that applies; other routes
    only look. moto's own status fields follow, so ListEmailIdentities agrees.
    """
    name = identity.email_identity
    with LOCK:
        control = account_state(backend).identity_controls.get(name, StatusControl())
        status = control.status
        if control.pending_reads > 0:
            status = "PENDING"
            if consume:
                control.pending_reads -= 1
        armed = account_state(backend).verification_mails.get(name)
        if armed is not None and not armed.verified:
            status = "PENDING"
        mail_from_status = None
        if mail_from_settings(backend, name).get("mail_from_domain"):
            mail_from_status = control.mail_from_status
            if control.mail_from_pending_reads > 0:
                mail_from_status = "PENDING"
                if consume:
                    control.mail_from_pending_reads -= 1
        identity.verification_status = status
        identity.verified_for_sending_status = status == "SUCCESS"
    return status, mail_from_status


def mail_from_settings(backend: SESV2Backend, name: str) -> dict:
    return backend.core_backend.identity_mail_from_domains.get(name) or {}


def dkim_attributes(identity, status: str) -> dict:
    if identity.identity_type != "DOMAIN":
        return {"SigningEnabled": False, "Status": "NOT_STARTED", "SigningAttributesOrigin": "AWS_SES"}
    keys = dkim_keys(identity)
    return {
        "SigningEnabled": True,
        "Status": status,
        "Tokens": list(keys.tokens),
        "SigningAttributesOrigin": keys.origin,
        "NextSigningKeyLength": keys.next_key_length,
        "CurrentSigningKeyLength": keys.current_key_length,
        "LastKeyGenerationTimestamp": keys.generated_at,
    }


def mail_from_attributes(backend: SESV2Backend, name: str, status: str | None) -> dict:
    settings = mail_from_settings(backend, name)
    behavior = settings.get("behavior_on_mx_failure") or "UseDefaultValue"
    attributes = {"BehaviorOnMxFailure": MX_FAILURE_V2.get(behavior, behavior)}
    if settings.get("mail_from_domain"):
        attributes["MailFromDomain"] = settings["mail_from_domain"]
        attributes["MailFromDomainStatus"] = status
    return attributes


def tags_of(backend: SESV2Backend, resource: str) -> list[dict]:
    arn = get_arn(backend.core_backend, "ses", resource)
    return backend.core_backend.tagger.list_tags_for_resource(arn)["Tags"]


# --- SES v2 routes (methods of moto's SESV2Response) ---------------------------------------------


def create_email_identity(self: SESV2Response):
    """CreateEmailIdentity: moto's, plus AlreadyExistsException and DKIM tokens."""
    body = request_body(self)
    name = body.get("EmailIdentity")
    signing = body.get("DkimSigningAttributes") or {}
    if not name:
        return bad_request("EmailIdentity is required.")
    if signing.get("NextSigningKeyLength", DEFAULT_KEY_LENGTH) not in KEY_LENGTHS:
        return bad_request(f"NextSigningKeyLength must be one of {', '.join(KEY_LENGTHS)}.")
    with LOCK:
        if find_identity(self, name) is not None:
            return error(400, "AlreadyExistsException", f"Email identity {name} already exist.")
        identity = self.sesv2_backend.create_email_identity(
            email_identity=name,
            tags=body.get("Tags"),
            dkim_signing_attributes=signing or None,
            configuration_set_name=body.get("ConfigurationSetName"),
        )
        dkim_keys(identity, signing)
    if identity.identity_type == "EMAIL_ADDRESS":
        send_verification_mail(self.sesv2_backend.core_backend, name)
    status, _ = identity_statuses(self.sesv2_backend, identity, consume=False)
    return ok(
        {
            "IdentityType": identity.identity_type,
            "VerifiedForSendingStatus": status == "SUCCESS",
            "DkimAttributes": dkim_attributes(identity, status),
        }
    )


def get_email_identity(self: SESV2Response):
    """GetEmailIdentity, in the reference's shape; consumes one pending read."""
    name = uri_param(self, "EmailIdentity")
    identity = find_identity(self, name)
    if identity is None:
        return not_found("Email identity", name)
    backend = self.sesv2_backend
    status, mail_from_status = identity_statuses(backend, identity, consume=True)
    forwarding = backend.core_backend.sns_topics.get(name, {}).get("feedback_forwarding_enabled", True)
    body = {
        "IdentityType": identity.identity_type,
        "FeedbackForwardingStatus": forwarding,
        "VerifiedForSendingStatus": status == "SUCCESS",
        "VerificationStatus": status,
        "DkimAttributes": dkim_attributes(identity, status),
        "MailFromAttributes": mail_from_attributes(backend, name, mail_from_status),
        "Policies": dict(identity.policies),
        "Tags": tags_of(backend, f"email-identity/{name}"),
    }
    if identity.configuration_set_name:
        body["ConfigurationSetName"] = identity.configuration_set_name
    return ok(body)


def delete_email_identity(self: SESV2Response):
    """DeleteEmailIdentity: moto's, plus NotFoundException."""
    name = uri_param(self, "EmailIdentity")
    core = self.sesv2_backend.core_backend
    with LOCK:
        if core.email_identities.pop(name, None) is None:
            return not_found("Email identity", name)
        core.identity_mail_from_domains.pop(name, None)
        core.tagger.delete_all_tags_for_resource(get_arn(core, "ses", f"email-identity/{name}"))
        forget_verification(self.sesv2_backend, name)
    return ok({})


def put_email_identity_dkim_signing_attributes(self: SESV2Response):
    """PutEmailIdentityDkimSigningAttributes (missing in moto)."""
    name = uri_param(self, "EmailIdentity")
    body = request_body(self)
    origin = body.get("SigningAttributesOrigin")
    length = (body.get("SigningAttributes") or {}).get("NextSigningKeyLength")
    if not origin:
        return bad_request("SigningAttributesOrigin is required.")
    if length is not None and length not in KEY_LENGTHS:
        return bad_request(f"NextSigningKeyLength must be one of {', '.join(KEY_LENGTHS)}.")
    identity = find_identity(self, name)
    if identity is None:
        return not_found("Email identity", name)
    with LOCK:
        keys = dkim_keys(identity)
        keys.origin = origin
        if length:
            keys.next_key_length = keys.current_key_length = length
        keys.generated_at = round(time.time(), 3)
    status, _ = identity_statuses(self.sesv2_backend, identity, consume=False)
    return ok({"DkimStatus": status, "DkimTokens": list(keys.tokens)})


def put_email_identity_mail_from_attributes(self: SESV2Response):
    """PutEmailIdentityMailFromAttributes (missing in moto)."""
    name = uri_param(self, "EmailIdentity")
    body = request_body(self)
    domain = body.get("MailFromDomain") or ""
    behavior = body.get("BehaviorOnMxFailure") or "USE_DEFAULT_VALUE"
    if behavior not in MX_FAILURE_BEHAVIORS:
        return bad_request(f"BehaviorOnMxFailure must be one of {', '.join(MX_FAILURE_BEHAVIORS)}.")
    if find_identity(self, name) is None:
        return not_found("Email identity", name)
    parent = name.split("@")[-1]
    if domain and not domain.endswith(f".{parent}"):
        return bad_request(f"MAIL FROM domain {domain} is not a subdomain of {parent}.")
    with LOCK:
        self.sesv2_backend.core_backend.identity_mail_from_domains[name] = {
            "mail_from_domain": domain or None,
            "behavior_on_mx_failure": MX_FAILURE_V1[behavior],
        }
    return ok({})


def get_account(self: SESV2Response):
    """GetAccount (missing in moto)."""
    backend = self.sesv2_backend
    with LOCK:
        account = account_state(backend)
        quota = PRODUCTION_QUOTA if account.production_access else SANDBOX_QUOTA
        body = {
            "DedicatedIpAutoWarmupEnabled": False,
            "EnforcementStatus": "HEALTHY",
            "ProductionAccessEnabled": account.production_access,
            "SendQuota": {**quota, "SentLast24Hours": float(backend.core_backend.sent_message_count)},
            "SendingEnabled": True,
            "SuppressionAttributes": {"SuppressedReasons": list(account.suppressed_reasons)},
        }
        if account.details is not None:
            body["Details"] = json.loads(json.dumps(account.details))
    return ok(body)


def put_account_suppression_attributes(self: SESV2Response):
    """PutAccountSuppressionAttributes (missing in moto)."""
    reasons = request_body(self).get("SuppressedReasons") or []
    if not isinstance(reasons, list) or any(reason not in SUPPRESSION_REASONS for reason in reasons):
        return bad_request(f"SuppressedReasons must be a list of {', '.join(SUPPRESSION_REASONS)}.")
    with LOCK:
        account_state(self.sesv2_backend).suppressed_reasons = list(dict.fromkeys(reasons))
    return ok({})


def put_account_details(self: SESV2Response):
    """PutAccountDetails (missing in moto)."""
    body = request_body(self)
    if body.get("MailType") not in MAIL_TYPES:
        return bad_request(f"MailType is required and must be one of {', '.join(MAIL_TYPES)}.")
    if not body.get("WebsiteURL"):
        return bad_request("WebsiteURL is required.")
    if body.get("ContactLanguage", "EN") not in CONTACT_LANGUAGES:
        return bad_request(f"ContactLanguage must be one of {', '.join(CONTACT_LANGUAGES)}.")
    with LOCK:
        account = account_state(self.sesv2_backend)
        review = (account.details or {}).get("ReviewDetails")
        if review and review["Status"] == "PENDING":
            return error(409, "ConflictException", "An account details update is already under review.")
        details = {key: body[key] for key in ACCOUNT_DETAILS if body.get(key) is not None}
        if body.get("ProductionAccessEnabled") and not account.production_access:
            review = {"Status": "PENDING", "CaseId": random_case_id()}
        if review:
            details["ReviewDetails"] = review
        account.details = details
    return ok({})


def get_configuration_set(self: SESV2Response):
    """GetConfigurationSet, in the reference's shape."""
    name = uri_param(self, "ConfigurationSetName")
    config_set = self.sesv2_backend.core_backend.config_sets.get(name)
    if config_set is None:
        return not_found("Configuration set", name)
    sending = config_set.enabled if isinstance(config_set.enabled, dict) else {}
    body = {
        "ConfigurationSetName": name,
        "SendingOptions": {"SendingEnabled": bool(sending.get("SendingEnabled", True))},
        "Tags": tags_of(self.sesv2_backend, f"configuration-set/{name}"),
    }
    optional = {
        "TrackingOptions": config_set.tracking_options,
        "DeliveryOptions": config_set.delivery_options,
        "ReputationOptions": config_set.reputation_options,
        "SuppressionOptions": config_set.suppression_options,
        "VdmOptions": config_set.vdm_options,
    }
    body.update({key: value for key, value in optional.items() if value})
    return ok(body)


def find_config_set(response: SESV2Response):
    return response.sesv2_backend.core_backend.config_sets.get(uri_param(response, "ConfigurationSetName"))


def event_destinations_of(config_set) -> dict:
    if not hasattr(config_set, "ocp_aws_event_destinations"):
        config_set.ocp_aws_event_destinations = {}
    return config_set.ocp_aws_event_destinations


def event_destination_shape(name: str, definition: dict) -> dict:
    """An EventDestination as GetConfigurationSetEventDestinations returns it."""
    shape = {
        "Name": name,
        "Enabled": bool(definition.get("Enabled", False)),
        "MatchingEventTypes": list(definition.get("MatchingEventTypes") or []),
    }
    for key in ("KinesisFirehoseDestination", "CloudWatchDestination", "SnsDestination", "EventBridgeDestination",
                "PinpointDestination"):
        if definition.get(key):
            shape[key] = definition[key]
    return shape


def get_configuration_set_event_destinations(self: SESV2Response):
    """GetConfigurationSetEventDestinations (missing in moto)."""
    config_set = find_config_set(self)
    if config_set is None:
        return not_found("Configuration set", uri_param(self, "ConfigurationSetName"))
    with LOCK:
        destinations = [event_destination_shape(n, d) for n, d in event_destinations_of(config_set).items()]
    return ok({"EventDestinations": destinations})


def create_configuration_set_event_destination(self: SESV2Response):
    """CreateConfigurationSetEventDestination (missing in moto)."""
    body = request_body(self)
    name = body.get("EventDestinationName")
    config_set = find_config_set(self)
    if config_set is None:
        return not_found("Configuration set", uri_param(self, "ConfigurationSetName"))
    with LOCK:
        destinations = event_destinations_of(config_set)
        if name in destinations:
            return error(400, "AlreadyExistsException", f"Event destination {name} already exists.")
        destinations[name] = dict(body.get("EventDestination") or {})
    return ok({})


def update_configuration_set_event_destination(self: SESV2Response):
    """UpdateConfigurationSetEventDestination (missing in moto)."""
    name = uri_param(self, "EventDestinationName")
    config_set = find_config_set(self)
    if config_set is None:
        return not_found("Configuration set", uri_param(self, "ConfigurationSetName"))
    with LOCK:
        destinations = event_destinations_of(config_set)
        if name not in destinations:
            return not_found("Event destination", name)
        destinations[name] = dict(request_body(self).get("EventDestination") or {})
    return ok({})


def delete_configuration_set_event_destination(self: SESV2Response):
    """DeleteConfigurationSetEventDestination (missing in moto)."""
    name = uri_param(self, "EventDestinationName")
    config_set = find_config_set(self)
    if config_set is None:
        return not_found("Configuration set", uri_param(self, "ConfigurationSetName"))
    with LOCK:
        if event_destinations_of(config_set).pop(name, None) is None:
            return not_found("Event destination", name)
    return ok({})


def put_configuration_set_option(attribute: str, shape):
    """A PutConfigurationSet*Options route (missing in moto) that stores ``shape(body)`` as ``attribute``."""

    def route(self: SESV2Response):
        config_set = find_config_set(self)
        if config_set is None:
            return not_found("Configuration set", uri_param(self, "ConfigurationSetName"))
        with LOCK:
            setattr(config_set, attribute, shape(request_body(self)))
        return ok({})

    return route


put_configuration_set_sending_options = put_configuration_set_option(
    "enabled", lambda body: {"SendingEnabled": bool(body.get("SendingEnabled", False))}
)
put_configuration_set_reputation_options = put_configuration_set_option(
    "reputation_options", lambda body: {"ReputationMetricsEnabled": bool(body.get("ReputationMetricsEnabled", False))}
)
put_configuration_set_delivery_options = put_configuration_set_option(
    "delivery_options",
    lambda body: {key: body[key] for key in ("TlsPolicy", "SendingPoolName", "MaxDeliverySeconds") if key in body},
)
put_configuration_set_suppression_options = put_configuration_set_option(
    "suppression_options", lambda body: {"SuppressedReasons": list(body.get("SuppressedReasons") or [])}
)


def put_email_identity_configuration_set_attributes(self: SESV2Response):
    """PutEmailIdentityConfigurationSetAttributes (missing in moto)."""
    name = uri_param(self, "EmailIdentity")
    set_name = request_body(self).get("ConfigurationSetName")
    identity = find_identity(self, name)
    if identity is None:
        return not_found("Email identity", name)
    if set_name and set_name not in self.sesv2_backend.core_backend.config_sets:
        return not_found("Configuration set", set_name)
    with LOCK:
        identity.configuration_set_name = set_name or None
    return ok({})


# moto's server routes a URL to SESV2Response.dispatch only through an explicit url_paths entry (its
# "/v2/.*" catch-all is taken literally by Flask), and dispatch then calls the method named after the
# operation that botocore's SES v2 model gives for the method and path.
IDENTITY_URL = "{0}/v2/email/identities/(?P<EmailIdentity>[^/]+)"
CONFIG_SET_URL = "{0}/v2/email/configuration-sets/(?P<ConfigurationSetName>[^/]+)"
ROUTES = {
    # SESV2Response method: URL pattern moto's Flask app must route to SES v2 (None: already routed)
    "create_email_identity": None,
    "get_email_identity": None,
    "delete_email_identity": None,
    "put_email_identity_dkim_signing_attributes": IDENTITY_URL + "/dkim/signing$",
    "put_email_identity_mail_from_attributes": IDENTITY_URL + "/mail-from$",
    "get_account": "{0}/v2/email/account$",
    "put_account_suppression_attributes": "{0}/v2/email/account/suppression$",
    "put_account_details": "{0}/v2/email/account/details$",
    "get_configuration_set": None,
    "get_configuration_set_event_destinations": CONFIG_SET_URL + "/event-destinations$",
    "create_configuration_set_event_destination": CONFIG_SET_URL + "/event-destinations$",
    "update_configuration_set_event_destination": CONFIG_SET_URL
    + "/event-destinations/(?P<EventDestinationName>[^/]+)$",
    "delete_configuration_set_event_destination": CONFIG_SET_URL
    + "/event-destinations/(?P<EventDestinationName>[^/]+)$",
    "put_configuration_set_sending_options": CONFIG_SET_URL + "/sending$",
    "put_configuration_set_reputation_options": CONFIG_SET_URL + "/reputation-options$",
    "put_configuration_set_delivery_options": CONFIG_SET_URL + "/delivery-options$",
    "put_configuration_set_suppression_options": CONFIG_SET_URL + "/suppression-options$",
    "put_email_identity_configuration_set_attributes": IDENTITY_URL + "/configuration-set$",
}


# --- SES v1 notification settings (methods of moto's EmailResponse) --------------------------------

NOTIFICATION_TYPES = ("Bounce", "Complaint", "Delivery")


def identity_notifications(backend, identity: str) -> dict:
    """moto's per-identity notification settings (topics under the type's name), created on first use."""
    return backend.sns_topics.setdefault(identity, {})


def set_identity_headers_in_notifications_enabled(self: EmailResponse):
    """SetIdentityHeadersInNotificationsEnabled (missing in moto)."""
    identity = self._get_param("Identity")
    kind = self._get_param("NotificationType")
    enabled = self._get_bool_param("Enabled", False)
    with LOCK:
        identity_notifications(self.backend, identity)[f"ocp_aws_headers_{kind}"] = enabled
    return EmptyResult()


def get_identity_notification_attributes(self: EmailResponse):
    """GetIdentityNotificationAttributes with the topics and header flags that were set."""
    attributes = {}
    with LOCK:
        for identity in self._get_param("Identities") or []:
            settings = self.backend.sns_topics.get(identity, {})
            entry = {"ForwardingEnabled": settings.get("feedback_forwarding_enabled", True)}
            for kind in NOTIFICATION_TYPES:
                if settings.get(kind):
                    entry[f"{kind}Topic"] = settings[kind]
                entry[f"HeadersIn{kind}NotificationsEnabled"] = bool(settings.get(f"ocp_aws_headers_{kind}", False))
            attributes[identity] = entry
    return ActionResult({"NotificationAttributes": attributes})


def verified(response: EmailResponse, name: str) -> bool:
    """Whether SES (v2's view, with the identity-status control) has verified the identity."""
    sesv2 = sesv2_backends[response.current_account][response.region]
    identity = sesv2.core_backend.email_identities.get(name)
    return identity is not None and identity_statuses(sesv2, identity, consume=False)[0] == "SUCCESS"


def set_identity_notification_topic(self: EmailResponse):
    """SetIdentityNotificationTopic: moto's, but clearing a topic that was never set is accepted, and
    setting one for an identity that is not verified is refused, as AWS does."""
    identity = self._get_param("Identity")
    kind = self._get_param("NotificationType")
    topic = self._get_param("SnsTopic")
    if topic and not verified(self, identity):
        raise InvalidParameterValue(f"Identity {identity} is invalid. Must be a verified email address or domain.")
    with LOCK:
        settings = identity_notifications(self.backend, identity)
        if topic:
            settings[kind] = topic
        else:
            settings.pop(kind, None)
    return EmptyResult()


SES_V1_ROUTES = (
    "set_identity_headers_in_notifications_enabled",
    "get_identity_notification_attributes",
    "set_identity_notification_topic",
    "create_receipt_rule",
    "delete_receipt_rule",
)


# --- SNS: pending subscriptions and attribute names (methods of moto's SNSResponse) ----------------

# The attributes SetTopicAttributes accepts (SNS API reference), the FIFO ones included.
TOPIC_ATTRIBUTES = frozenset(
    (
        "ApplicationSuccessFeedbackRoleArn", "ApplicationSuccessFeedbackSampleRate", "ApplicationFailureFeedbackRoleArn",
        "HTTPSuccessFeedbackRoleArn", "HTTPSuccessFeedbackSampleRate", "HTTPFailureFeedbackRoleArn",
        "LambdaSuccessFeedbackRoleArn", "LambdaSuccessFeedbackSampleRate", "LambdaFailureFeedbackRoleArn",
        "FirehoseSuccessFeedbackRoleArn", "FirehoseSuccessFeedbackSampleRate", "FirehoseFailureFeedbackRoleArn",
        "SQSSuccessFeedbackRoleArn", "SQSSuccessFeedbackSampleRate", "SQSFailureFeedbackRoleArn",
        "DeliveryPolicy", "DisplayName", "Policy", "TracingConfig", "KmsMasterKeyId", "SignatureVersion",
        "ArchivePolicy", "ContentBasedDeduplication", "FifoThroughputScope", "DataProtectionPolicy",
    )
)
MOTO_SET_TOPIC_ATTRIBUTES = SNSResponse.set_topic_attributes
MOTO_SNS_SUBSCRIBE = SNSBackend.subscribe


def pending_controls(backend) -> dict:
    """Endpoint -> reads left before confirmation (None: never) of an SNS backend."""
    if not hasattr(backend, "ocp_aws_pending"):
        backend.ocp_aws_pending = {}
    return backend.ocp_aws_pending


def sns_subscribe(self: SNSBackend, topic_arn: str, endpoint: str, protocol: str):
    """moto's Subscribe; a new subscription to an armed endpoint stays pending."""
    with LOCK:
        known = any(s.topic.arn == topic_arn and s.endpoint == endpoint and s.protocol == protocol
                    for s in self.subscriptions.values())
        subscription = MOTO_SNS_SUBSCRIBE(self, topic_arn, endpoint, protocol)
        controls = pending_controls(self)
        if not known and endpoint in controls:
            subscription.ocp_aws_pending_reads = controls[endpoint]
            subscription.attributes["PendingConfirmation"] = "true"
    return subscription


def is_pending(subscription, consume: bool) -> bool:
    if not hasattr(subscription, "ocp_aws_pending_reads"):
        return False
    left = subscription.ocp_aws_pending_reads
    if left is None:
        return True
    if left <= 0:
        return False
    if consume:
        subscription.ocp_aws_pending_reads = left - 1
    return True


def list_subscriptions_by_topic(self: SNSResponse):
    """ListSubscriptionsByTopic: a pending subscription is listed as AWS lists it."""
    topic_arn = self._get_param("TopicArn")
    next_token = self._get_param("NextToken")
    with LOCK:
        subscriptions, next_token = self.backend.list_subscriptions_by_topic(topic_arn, next_token=next_token)
        listed = [
            {
                "SubscriptionArn": "PendingConfirmation" if is_pending(s, consume=True) else s.arn,
                "Owner": s.account_id,
                "Protocol": s.protocol,
                "Endpoint": s.endpoint,
                "TopicArn": s.topic.arn,
            }
            for s in subscriptions
        ]
    return ActionResult({"Subscriptions": listed, "NextToken": next_token})


def sns_unsubscribe(self: SNSResponse):
    """Unsubscribe: a pending subscription has no ARN on AWS, so it cannot be named."""
    arn = self._get_param("SubscriptionArn")
    if arn == "PendingConfirmation":
        raise SNSInvalidParameter("Invalid parameter: SubscriptionArn Reason: a pending subscription has no ARN")
    self.backend.unsubscribe(arn)
    return EmptyResult()


def set_topic_attributes(self: SNSResponse):
    """SetTopicAttributes: an AttributeName AWS does not know is refused."""
    name = self._get_param("AttributeName")
    if name not in TOPIC_ATTRIBUTES:
        raise SNSInvalidParameter("Invalid parameter: AttributeName")
    return MOTO_SET_TOPIC_ATTRIBUTES(self)


# --- RDS: engine versions, orderable options, AWS's checks, and statuses over time ---------------

# PostgreSQL versions RDS offered in 2025 (two minors of each supported major), oldest first.
POSTGRES_VERSIONS = ("13.20", "13.21", "14.17", "14.18", "15.12", "15.13", "16.8", "16.9", "17.4", "17.5")
ORDERABLE_CLASSES = ("db.t3.micro", "db.t3.small", "db.t3.medium", "db.t4g.micro", "db.t4g.small", "db.m5.large")
# Characters AWS refuses in a master password.
PASSWORD_FORBIDDEN = ("/", '"', "@", " ")
MOTO_CREATE_DB_INSTANCE = RDSResponse.create_db_instance
MOTO_MODIFY_DB_INSTANCE = RDSResponse.modify_db_instance
MOTO_DELETE_DB_INSTANCE = RDSResponse.delete_db_instance
MOTO_DESCRIBE_DB_INSTANCES = RDSResponse.describe_db_instances
MOTO_DESCRIBE_ORDERABLE = RDSResponse.describe_orderable_db_instance_options


def pg_major(version: str) -> str:
    return version.split(".")[0]


def pg_key(version: str) -> tuple:
    return tuple(int(p) if p.isdigit() else -1 for p in version.split("."))


def describe_db_engine_versions(self: RDSResponse):
    """DescribeDBEngineVersions: PostgreSQL's versions (other engines: none)."""
    engine = self._get_param("Engine")
    version = self._get_param("EngineVersion")
    default_only = str(self._get_param("DefaultOnly", "false")).lower() == "true"
    versions = list(POSTGRES_VERSIONS) if engine in (None, "postgres") else []
    if version:
        versions = [v for v in versions if v == version or pg_major(v) == version]
    if default_only and versions:
        versions = versions[-1:]
    listed = [
        {
            "Engine": "postgres",
            "EngineVersion": v,
            "MajorEngineVersion": pg_major(v),
            "DBParameterGroupFamily": f"postgres{pg_major(v)}",
            "DBEngineDescription": "PostgreSQL",
            "DBEngineVersionDescription": f"PostgreSQL {v}-R1",
            "Status": "available",
        }
        for v in versions
    ]
    return ActionResult({"DBEngineVersions": listed})


def describe_orderable_db_instance_options(self: RDSResponse):
    """DescribeOrderableDBInstanceOptions: for postgres, every listed version on each listed class."""
    if self._get_param("Engine") != "postgres":
        return MOTO_DESCRIBE_ORDERABLE(self)
    version = self._get_param("EngineVersion")
    klass = self._get_param("DBInstanceClass")
    options = [
        {
            "Engine": "postgres",
            "EngineVersion": v,
            "DBInstanceClass": c,
            "LicenseModel": "postgresql-license",
            "StorageType": "gp2",
            "MultiAZCapable": True,
            "MinStorageSize": 20,
            "MaxStorageSize": 65536,
        }
        for v in POSTGRES_VERSIONS
        for c in ORDERABLE_CLASSES
        if (not version or v == version) and (not klass or c == klass)
    ]
    return ActionResult({"OrderableDBInstanceOptions": options})


def check_password(password) -> None:
    if password is None:
        return
    if not 8 <= len(password) <= 128:
        raise RDSClientError(
            "InvalidParameterValue",
            "The parameter MasterUserPassword is not a valid password because it is shorter than 8 characters "
            "or longer than 128.",
        )
    if any(c in password for c in PASSWORD_FORBIDDEN) or not password.isprintable() or not password.isascii():
        raise RDSClientError(
            "InvalidParameterValue",
            "The parameter MasterUserPassword is not a valid password. Only printable ASCII characters besides "
            "'/', '@', '\"', ' ' may be used.",
        )


def check_version(version) -> None:
    if version is not None and version not in POSTGRES_VERSIONS:
        raise RDSClientError("InvalidParameterCombination", f"Cannot find version {version} for postgres")


def create_db_instance(self: RDSResponse):
    """CreateDBInstance: AWS's checks of a postgres instance's version, password and storage."""
    if self._get_param("Engine") == "postgres":
        check_version(self._get_param("EngineVersion"))
        if not self._get_param("ManageMasterUserPassword"):
            password = self._get_param("MasterUserPassword")
            if password is None:
                raise RDSClientError("InvalidParameterValue", "The parameter MasterUserPassword must be provided.")
            check_password(password)
        storage = self._get_param("AllocatedStorage")
        if storage is not None and int(storage) < 20:
            raise RDSClientError(
                "InvalidParameterCombination", f"Invalid storage size for engine name postgres: {storage}"
            )
    return MOTO_CREATE_DB_INSTANCE(self)


def modify_db_instance(self: RDSResponse):
    """ModifyDBInstance: AWS's checks of a new password and of a version change."""
    check_password(self._get_param("MasterUserPassword"))
    version = self._get_param("EngineVersion")
    if version is not None:
        instance = self.backend.describe_db_instances(self._get_param("DBInstanceIdentifier"))[0]
        if instance.engine == "postgres":
            check_version(version)
            if pg_key(version) < pg_key(instance.engine_version):
                raise RDSClientError(
                    "InvalidParameterCombination",
                    f"Cannot upgrade postgres from {instance.engine_version} to {version}",
                )
            allow = str(self._get_param("AllowMajorVersionUpgrade", "false")).lower() == "true"
            if pg_major(version) != pg_major(instance.engine_version) and not allow:
                raise RDSClientError(
                    "InvalidParameterCombination",
                    "The AllowMajorVersionUpgrade flag must be present when upgrading to a new major version.",
                )
    return MOTO_MODIFY_DB_INSTANCE(self)


def delete_db_instance(self: RDSResponse):
    """DeleteDBInstance: a final snapshot must be named or skipped."""
    skip = str(self._get_param("SkipFinalSnapshot", "false")).lower() == "true"
    if not skip and not self._get_param("FinalDBSnapshotIdentifier"):
        raise RDSClientError(
            "InvalidParameterCombination",
            "FinalDBSnapshotIdentifier is required unless SkipFinalSnapshot is specified.",
        )
    return MOTO_DELETE_DB_INSTANCE(self)


def status_controls(backend) -> dict:
    """DB instance identifier -> statuses still to show, of an RDS backend."""
    if not hasattr(backend, "ocp_aws_statuses"):
        backend.ocp_aws_statuses = {}
    return backend.ocp_aws_statuses


class InstanceView:
    """A DB instance as one read shows it: an armed status, and no endpoint while creating."""

    def __init__(self, instance, status: str):
        self._instance = instance
        self.status = status
        self.db_instance_status = status
        if status == "creating":
            self.endpoint = None

    def __getattr__(self, name):
        return getattr(self._instance, name)


def describe_db_instances(self: RDSResponse):
    """DescribeDBInstances: armed instances go through their statuses, one per read."""
    answer = MOTO_DESCRIBE_DB_INSTANCES(self)
    with LOCK:
        controls = status_controls(self.backend)
        shown = []
        for instance in answer.result["DBInstances"]:
            statuses = controls.get(instance.db_instance_identifier)
            if statuses:
                shown.append(InstanceView(instance, statuses.pop(0)))
            else:
                shown.append(instance)
        answer.result["DBInstances"] = shown
    return answer


RDS_ROUTES = (
    "describe_db_engine_versions",
    "describe_orderable_db_instance_options",
    "create_db_instance",
    "modify_db_instance",
    "delete_db_instance",
    "describe_db_instances",
)


# --- EC2: a security group in use ------------------------------------------------------------------

MOTO_DELETE_SECURITY_GROUP = SecurityGroupBackend._delete_security_group


def delete_security_group(self, vpc_id, group_id):
    """DeleteSecurityGroup: AWS refuses while a DB instance uses the group."""
    for instance in rds_backends[self.account_id][self.region_name].databases.values():
        if group_id in (instance.vpc_security_group_ids or []):
            raise EC2ClientError(
                "DependencyViolation", f"resource {group_id} has a dependent object"
            )
    return MOTO_DELETE_SECURITY_GROUP(self, vpc_id, group_id)


# --- SES v1 receiving: receipt rules, verification mail, delivery to S3 ---------------------------

RULES_PER_SET = 200  # SES quotas: receipt rules per rule set, recipients per rule
RECIPIENTS_PER_RULE = 100
SES_PRINCIPAL = "ses.amazonaws.com"
# What SES writes under an S3 action's prefix when the rule is created, to prove it can write there.
SETUP_NOTIFICATION = "AMAZON_SES_SETUP_NOTIFICATION"
SETUP_NOTIFICATION_TEXT = b"This is a test message from Amazon SES to confirm that it can write to this bucket.\r\n"
VERDICTS = ("pass", "fail", "none")
# The sending host of SES that delivered mail names (a real amazonses.com outbound address).
SES_OUTBOUND_HOST, SES_OUTBOUND_IP = "a8-30.smtp-out.amazonses.com", "54.240.8.30"
AMAZONSES_SELECTOR = "224i4yxa5dv7c2xz3womw6peuasteono"
AMAZON_SELECTOR = "pf3ltp53k6s4vjxwzwnvwnf4r3i6vj2y"
REGION_NAMES = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "ca-central-1": "Canada (Central)",
    "eu-west-1": "Europe (Ireland)",
    "eu-west-2": "Europe (London)",
    "eu-west-3": "Europe (Paris)",
    "eu-central-1": "Europe (Frankfurt)",
    "eu-north-1": "Europe (Stockholm)",
    "ap-south-1": "Asia Pacific (Mumbai)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
    "sa-east-1": "South America (São Paulo)",
}
# Second-level labels under which a two-letter country code's registrations sit (co.uk, org.br, ...).
SECOND_LEVELS = ("co", "com", "org", "net", "ac", "gov", "edu")
# Token of a verification link -> (account, region, address), so that the link finds its backend.
LINK_TOKENS: dict[str, tuple[str, str, str]] = {}


class LimitExceeded(SesError):
    code = "LimitExceeded"


def s3_backend_of(core: SESBackend):
    return s3_backends[core.account_id][get_partition(core.region_name)]


def matches(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM's wildcard match: ``*`` any run of characters, ``?`` one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def principal_is_ses(principal) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    return SES_PRINCIPAL in as_list(principal.get("Service", [])) or "*" in as_list(principal.get("AWS", []))


def conditions_hold(conditions, context: dict) -> bool:
    """The statement's Condition block against what SES presents (aws:SourceAccount, aws:SourceArn,
    aws:Referer); an operator or key outside those is not satisfied, as a missing key is not on AWS."""
    for operator, keys in (conditions or {}).items():
        if not isinstance(keys, dict):
            return False
        for key, wanted in keys.items():
            value = context.get(key.lower())
            if value is None:
                return False
            if operator in ("StringEquals", "ArnEquals"):
                ok_ = value in as_list(wanted)
            elif operator in ("StringLike", "ArnLike"):
                ok_ = any(matches(str(pattern), value) for pattern in as_list(wanted))
            else:
                return False
            if not ok_:
                return False
    return True


def ses_may_write(core: SESBackend, bucket, action: dict, rule_arn: str) -> bool:
    """Whether the bucket policy lets SES put the action's objects: an Allow for ses.amazonaws.com on
    s3:PutObject covering ``arn:aws:s3:::BUCKET/PREFIX...`` whose conditions hold, and no such Deny."""
    try:
        document = json.loads(bucket.policy.decode()) if bucket.policy else {}
    except (ValueError, UnicodeDecodeError):
        return False
    key = f"arn:aws:s3:::{action['BucketName']}/{action.get('ObjectKeyPrefix') or ''}{SETUP_NOTIFICATION}"
    context = {"aws:sourceaccount": core.account_id, "aws:sourcearn": rule_arn, "aws:referer": core.account_id}
    allowed = False
    for statement in as_list(document.get("Statement") or []):
        if not isinstance(statement, dict) or not principal_is_ses(statement.get("Principal")):
            continue
        actions = as_list(statement.get("Action") or [])
        resources = as_list(statement.get("Resource") or [])
        if not any(matches(str(a), "s3:PutObject", ignore_case=True) for a in actions):
            continue
        if not any(matches(str(r), key) for r in resources):
            continue
        if not conditions_hold(statement.get("Condition"), context):
            continue
        if statement.get("Effect") == "Deny":
            return False
        allowed = allowed or statement.get("Effect") == "Allow"
    return allowed


def check_s3_action(core: SESBackend, rule_set: str, rule: str, action: dict) -> None:
    """AWS's check of an S3 action at CreateReceiptRule: the bucket exists and, unless SES writes
    through an IAM role, its policy lets SES put objects."""
    try:
        bucket = s3_backend_of(core).get_bucket(action.get("BucketName", ""))
    except Exception:  # moto raises MissingBucket, or AccessDenied for another account's bucket
        bucket = None
    rule_arn = f"arn:aws:ses:{core.region_name}:{core.account_id}:receipt-rule-set/{rule_set}:receipt-rule/{rule}"
    if bucket is None or (not action.get("IamRoleArn") and not ses_may_write(core, bucket, action, rule_arn)):
        raise InvalidS3ConfigurationException(f"Could not write to bucket: {action.get('BucketName')}")


RECIPIENT = re.compile(r"^\.?([A-Za-z0-9-]+\.)*[A-Za-z0-9-]+$")


def check_recipients(recipients) -> None:
    """Recipients are addresses, domains, or domains with a leading dot (their subdomains)."""
    if len(recipients) > RECIPIENTS_PER_RULE:
        raise LimitExceeded(f"A receipt rule can have at most {RECIPIENTS_PER_RULE} recipients.")
    for recipient in recipients:
        local, at, domain = str(recipient).rpartition("@")
        if not RECIPIENT.match(domain) or (at and (not local or domain.startswith("."))):
            raise InvalidParameterValue(f"Invalid recipient: {recipient}")


def create_receipt_rule(self: EmailResponse):
    """CreateReceiptRule: moto's (name and rule set checks, bucket exists, position), plus a name
    already in the set (AlreadyExists), the bucket policy check, recipients, the quotas, AWS's
    defaults, and the setup notification object."""
    set_name = self._get_param("RuleSetName", "")
    rule = dict(self._get_param("Rule", {}) or {})
    after = self._get_param("After", "")
    with LOCK:
        rule_set = self.backend.receipt_rule_set.get(set_name)
        if rule_set is None or not isinstance(rule.get("Name"), str):
            self.backend.create_receipt_rule(set_name, rule, after)  # moto's refusal
            return EmptyResult()
        if any(existing["Name"] == rule["Name"] for existing in rule_set.rules):
            raise AlreadyExists(f"Rule already exists: {rule['Name']}")
        if len(rule_set.rules) >= RULES_PER_SET:
            raise LimitExceeded(f"A receipt rule set can have at most {RULES_PER_SET} rules.")
        check_recipients(rule.get("Recipients") or [])
        rule = {"Enabled": False, "TlsPolicy": "Optional", "ScanEnabled": False, **rule}
        rule.setdefault("Actions", [])
        s3_actions = [action["S3Action"] for action in rule["Actions"] if "S3Action" in action]
        for action in s3_actions:
            check_s3_action(self.backend, set_name, rule["Name"], action)
        self.backend.create_receipt_rule(set_name, rule, after)
        for action in s3_actions:
            key = f"{action.get('ObjectKeyPrefix') or ''}{SETUP_NOTIFICATION}"
            s3_backend_of(self.backend).put_object(action["BucketName"], key, SETUP_NOTIFICATION_TEXT)
    return EmptyResult()


def delete_receipt_rule(self: EmailResponse):
    """DeleteReceiptRule (missing in moto): an unknown rule set is refused; an unknown rule is not an
    error (the reference lists none)."""
    set_name = self._get_param("RuleSetName")
    name = self._get_param("RuleName")
    with LOCK:
        rule_set = self.backend.receipt_rule_set.get(set_name)
        if rule_set is None:
            raise RuleSetDoesNotExist(f"Rule set does not exist: {set_name}")
        rule_set.rules = [rule for rule in rule_set.rules if rule["Name"] != name]
    return EmptyResult()


def covers(recipients, address: str) -> bool:
    """Whether a rule's recipients cover an address: the address itself, its domain, a parent domain
    written with a leading dot, or no recipients at all."""
    if not recipients:
        return True
    address = address.lower()
    domain = address.rpartition("@")[2]
    for recipient in recipients:
        recipient = str(recipient).lower()
        if "@" in recipient:
            hit = recipient == address
        elif recipient.startswith("."):
            hit = domain.endswith(recipient)
        else:
            hit = domain == recipient
        if hit:
            return True
    return False


def deliver(core: SESBackend, recipient: str, raw: bytes, message_id: str) -> bool:
    """Store a received message as the active rule set's S3 actions for the recipient would: enabled
    rules in order, each covering rule's S3 actions, until a StopAction. Returns whether anything was
    stored; without a covering rule (or with a bucket SES may no longer write to) nothing is."""
    stored = False
    with LOCK:
        active = core.describe_active_receipt_rule_set()
        for rule in active.rules if active is not None else []:
            if not rule.get("Enabled") or not covers(rule.get("Recipients"), recipient):
                continue
            for action in rule.get("Actions") or []:
                if "StopAction" in action:
                    return stored
                s3_action = action.get("S3Action")
                if s3_action is None:
                    continue
                try:
                    check_s3_action(core, active.name, rule["Name"], s3_action)
                except InvalidS3ConfigurationException:
                    continue
                key = f"{s3_action.get('ObjectKeyPrefix') or ''}{message_id}"
                s3_backend_of(core).put_object(s3_action["BucketName"], key, raw)
                stored = True
    return stored


def organizational_domain(domain: str) -> str:
    """The last two labels, or three under a common second level of a two-letter country code
    (example.co.uk): DMARC's relaxed alignment without the public suffix list."""
    labels = domain.lower().rstrip(".").split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in SECOND_LEVELS:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def aligned(domain: str, from_domain: str) -> bool:
    return organizational_domain(domain) == organizational_domain(from_domain)


def message_id_header() -> str:
    return f"<{envelope_local()}@email.amazonses.com>"


def envelope_local() -> str:
    return f"0100{int(time.time() * 1000):012x}-{uuid.uuid4()}-000000"


def signature_header(domain: str, selector: str, signed: bytes) -> str:
    """A DKIM-Signature header as SES writes it (the hashes are of the message, not real signatures)."""
    body_hash = base64.b64encode(hashlib.sha256(signed).digest()).decode()
    signature = base64.b64encode(hashlib.sha512(signed + domain.encode()).digest() * 4).decode()
    return (
        f"DKIM-Signature: v=1; a=rsa-sha256; q=dns/txt; c=relaxed/simple;\r\n"
        f"\ts={selector}; d={domain}; t={int(time.time())};\r\n"
        f"\th=From:To:Subject:MIME-Version:Content-Type:Message-ID:Date;\r\n"
        f"\tbh={body_hash};\r\n"
        f"\tb={signature[:172]}\r\n"
    )


def spf_comment(result: str, mail_from: str) -> str:
    if result == "pass":
        return f"spfCheck: domain of {mail_from} designates {SES_OUTBOUND_IP} as permitted sender"
    if result == "fail":
        return f"spfCheck: domain of {mail_from} does not designate {SES_OUTBOUND_IP} as permitted sender"
    return f"spfCheck: {mail_from} does not publish an SPF record"


def inbound_copy(core, recipient, original: bytes, from_domain, mail_from, signers, spf, dmarc) -> bytes:
    """The message as SES inbound stores it: its receiving headers, then the two DKIM signatures SES
    added when sending (``signers``: (domain, selector, result); none when the result is "none"), then
    the original message."""
    envelope = f"{envelope_local()}@{mail_from}"
    now = email.utils.format_datetime(datetime.datetime.now(datetime.timezone.utc))
    helo = f"client-ip={SES_OUTBOUND_IP}; envelope-from={envelope}; helo={SES_OUTBOUND_HOST};"
    results = [f"spf={spf} ({spf_comment(spf, mail_from)}) {helo} smtp.mailfrom={mail_from};"]
    results += [f"dkim={result} header.i=@{domain};" for domain, _, result in signers] or ["dkim=none;"]
    results.append(f"dmarc={dmarc} header.from={from_domain};")
    receipt = base64.b64encode(secrets.token_bytes(180)).decode()
    receipt = "\r\n ".join(receipt[i : i + 76] for i in range(0, len(receipt), 76))
    headers = (
        f"Return-Path: <{envelope}>\r\n"
        f"Received: from {SES_OUTBOUND_HOST} ({SES_OUTBOUND_HOST} [{SES_OUTBOUND_IP}])\r\n"
        f" by inbound-smtp.{core.region_name}.amazonaws.com with SMTP id {random_token(40)}\r\n"
        f" for {recipient};\r\n"
        f" {now}\r\n"
        "X-SES-Spam-Verdict: PASS\r\n"
        "X-SES-Virus-Verdict: PASS\r\n"
        f"Received-SPF: {spf} ({spf_comment(spf, mail_from)}) {helo}\r\n"
        "Authentication-Results: amazonses.com;\r\n " + "\r\n ".join(results) + "\r\n"
        f"X-SES-RECEIPT: {receipt}\r\n"
    )
    signatures = "".join(signature_header(domain, selector, original) for domain, selector, _ in signers)
    return headers.encode() + signatures.encode() + original


def override(core: SESBackend, recipient: str, name: str, natural: str) -> str:
    overrides = account_state(sesv2_backends[core.account_id][core.region_name]).delivery_overrides
    return overrides.get(recipient.lower(), {}).get(name, natural)


def sender_authentication(core: SESBackend, from_address: str, recipient: str):
    """(mail_from, signers, spf, dmarc) of a message SES sends from ``from_address``: DKIM by the
    From domain's verified identity (or a parent's) when its DKIM status is SUCCESS, always by
    amazonses.com; SPF for the identity's MAIL FROM domain when its status is SUCCESS, else for
    amazonses.com; DMARC passes through an aligned, passing DKIM or SPF; then the overrides."""
    sesv2 = sesv2_backends[core.account_id][core.region_name]
    from_domain = from_address.rpartition("@")[2].lower()
    signers = []
    labels = from_domain.split(".")
    for start in range(len(labels) - 1):
        candidate = core.email_identities.get(".".join(labels[start:]))
        if candidate is not None and candidate.identity_type == "DOMAIN":
            status, _ = identity_statuses(sesv2, candidate, consume=False)
            if status == "SUCCESS":
                signers.append([candidate.email_identity, dkim_keys(candidate).tokens[0], "pass"])
            break
    signers.append(["amazonses.com", AMAZONSES_SELECTOR, "pass"])
    mail_from = "amazonses.com"
    for name in (from_address, from_domain):
        identity = core.email_identities.get(name)
        if identity is not None and mail_from_settings(sesv2, name).get("mail_from_domain"):
            _, status = identity_statuses(sesv2, identity, consume=False)
            if status == "SUCCESS":
                mail_from = mail_from_settings(sesv2, name)["mail_from_domain"]
            break
    dkim = override(core, recipient, "Dkim", None)
    if dkim == "none":
        signers = []
    for signer in signers:
        signer[2] = dkim or signer[2]
    spf = override(core, recipient, "Spf", "pass")
    passes = any(result == "pass" and aligned(domain, from_domain) for domain, _, result in signers)
    passes = passes or (spf == "pass" and aligned(mail_from, from_domain))
    dmarc = override(core, recipient, "Dmarc", "pass" if passes else "fail")
    return from_domain, mail_from, [tuple(signer) for signer in signers], spf, dmarc


def deliver_sent(core: SESBackend, source: str, recipients, original: bytes) -> None:
    """Deliver a sent message to each recipient that an active rule stores (once per address)."""
    _, from_address = email.utils.parseaddr(source)
    for recipient in dict.fromkeys(email.utils.parseaddr(r)[1] for r in recipients):
        if not recipient:
            continue
        from_domain, mail_from, signers, spf, dmarc = sender_authentication(core, from_address, recipient)
        raw = inbound_copy(core, recipient, original, from_domain, mail_from, signers, spf, dmarc)
        deliver(core, recipient, raw, random_token(40))


def ses_send_email(self: SESBackend, source, subject, body, destinations):
    """SendEmail (v1 and v2's Simple content): moto's, then delivery to receiving rules. moto keeps only
    one body (the HTML one when both are given), so a body starting with ``<`` is sent as text/html."""
    message = MOTO_SES_SEND_EMAIL(self, source, subject, body, destinations)

    def one_line(value) -> str:
        # SES puts these parameters into headers; a line break in one must not start another header.
        return " ".join(str(value or "").splitlines())

    mime = EmailMessage(policy=SMTP)
    mime["From"] = one_line(source)
    for header, key in (("To", "ToAddresses"), ("Cc", "CcAddresses")):
        if destinations.get(key):
            mime[header] = one_line(", ".join(destinations[key]))
    mime["Subject"] = one_line(subject)
    mime["Message-ID"] = message_id_header()
    mime["Date"] = email.utils.format_datetime(datetime.datetime.now(datetime.timezone.utc))
    mime.set_content(body or "", subtype="html" if (body or "").lstrip().startswith("<") else "plain")
    recipients = [address for key in ("ToAddresses", "CcAddresses", "BccAddresses") for address in
                  destinations.get(key) or []]
    deliver_sent(self, source, recipients, mime.as_bytes())
    return message


def ses_send_raw_email(self: SESBackend, source, destinations, raw_data):
    """SendRawEmail (v1 and v2's Raw content): moto's, then delivery to receiving rules."""
    message = MOTO_SES_SEND_RAW_EMAIL(self, source, destinations, raw_data)
    sender = source or email.message_from_string(raw_data).get("From", "")
    original = raw_data.encode()
    if b"\r\n" not in original:
        original = original.replace(b"\n", b"\r\n")
    deliver_sent(self, sender, message.destinations, original)
    return message


def verification_message(account: str, region: str, address: str, link_base: str, token: str) -> tuple[bytes, list]:
    """The verification mail SES sends to an email address identity, and SES's signers of it."""
    now = datetime.datetime.now(datetime.timezone.utc)
    link = (
        f"{link_base}?Context={account}&X-Amz-Date={now:%Y%m%dT%H%M%SZ}"
        f"&Identity.IdentityName={quote(address, safe='')}&X-Amz-Signature={token}"
        "&Identity.IdentityType=EmailAddress&Namespace=Bacon&Operation=ConfirmVerification"
    )
    place = REGION_NAMES.get(region, region)
    paragraphs = [
        "Dear Amazon Web Services Customer,",
        "We have received a request to authorize this email address for use with Amazon SES and Amazon "
        f"Pinpoint in region {place}. If you requested this verification, please go to the following URL "
        "to confirm that you are authorized to use this email address:",
        link,
        "Your request will not be processed unless you confirm the address using this URL. This link expires "
        "24 hours after your original verification request.",
        "If you did NOT request to verify this email address, do not click on the link. Please note that many "
        "times, the situation isn't a phishing attempt, but either a misunderstanding of how to use our service, "
        "or someone imprudently entering your email address. If you are still concerned, please forward this "
        "notification to aws-email-domain-verification@amazon.com and let us know in the forward that you did "
        "not request the verification.",
        "To learn more about sending email from Amazon Web Services, please refer to the Amazon SES Developer "
        "Guide at https://docs.aws.amazon.com/ses/latest/dg/Welcome.html and Amazon Pinpoint Developer Guide "
        "at https://docs.aws.amazon.com/pinpoint/latest/userguide/welcome.html.",
        "Sincerely,",
        "The Amazon Web Services Team.",
    ]
    text = "\n\n".join(paragraphs) + "\n"
    markup = "\n".join(
        f'<p><a href="{html.escape(p)}">{html.escape(p)}</a></p>' if p == link else f"<p>{html.escape(p)}</p>"
        for p in paragraphs
    )
    markup = f"<html><head></head><body>\n{markup}\n</body></html>\n"

    def qp(part: str) -> str:
        return quopri.encodestring(part.encode("utf-8")).decode("ascii").replace("\n", "\r\n")

    charset = email.charset.Charset("utf-8")
    charset.header_encoding = email.charset.QP
    subject = email.header.Header(
        f"Amazon Web Services \u2013 Email Address Verification Request in region {place}", charset
    ).encode(maxlinelen=76, linesep="\r\n")
    boundary = f"----=_Part_{random.randint(10**6, 10**7)}_{random.randint(10**8, 10**9)}.{int(time.time() * 1000)}"
    original = (
        'From: "Amazon Web Services" <no-reply-aws@amazon.com>\r\n'
        f"To: {address}\r\n"
        f"Subject: {subject}\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n'
        f"Message-ID: {message_id_header()}\r\n"
        f"Date: {email.utils.format_datetime(now)}\r\n"
        f"Feedback-ID: 1.{region}.{base64.b64encode(secrets.token_bytes(33)).decode()}:AmazonSES\r\n"
        f"X-SES-Outgoing: {now:%Y.%m.%d}-{SES_OUTBOUND_IP}\r\n"
        "\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/plain; charset=UTF-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n"
        f"{qp(text)}\r\n"
        f"--{boundary}\r\n"
        "Content-Type: text/html; charset=UTF-8\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n"
        f"{qp(markup)}\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    signers = [("amazon.com", AMAZON_SELECTOR, "pass"), ("amazonses.com", AMAZONSES_SELECTOR, "pass")]
    return original, signers


def send_verification_mail(core: SESBackend, address: str) -> None:
    """Send (or re-send) the verification mail of an armed address: a new token, the message stored
    where the active rule set delivers it."""
    sesv2 = sesv2_backends[core.account_id][core.region_name]
    with LOCK:
        mail = account_state(sesv2).verification_mails.get(address)
        if mail is None:
            return
        if mail.token:
            LINK_TOKENS.pop(mail.token, None)
        mail.token = secrets.token_hex(32)
        mail.sent += 1
        LINK_TOKENS[mail.token] = (core.account_id, core.region_name, address)
        original, signers = verification_message(core.account_id, core.region_name, address, mail.link_base,
                                                 mail.token)
        raw = inbound_copy(core, address, original, "amazon.com", "amazonses.com", signers, "pass", "pass")
        if deliver(core, address, raw, random_token(40)):
            mail.delivered += 1


def forget_verification(sesv2: SESV2Backend, name: str) -> None:
    """A deleted identity must be verified again when it is created again."""
    with LOCK:
        mail = account_state(sesv2).verification_mails.get(name)
        if mail is not None:
            mail.verified = False


def ses_verify_email_identity(self: SESBackend, address: str) -> None:
    """VerifyEmailIdentity: moto's, then the verification mail of an armed address."""
    MOTO_SES_VERIFY_EMAIL_IDENTITY(self, address)
    send_verification_mail(self, email.utils.parseaddr(address)[1])


def ses_verify_email_address(self: SESBackend, address: str) -> None:
    """VerifyEmailAddress: moto's, then the verification mail of an armed address."""
    MOTO_SES_VERIFY_EMAIL_ADDRESS(self, address)
    send_verification_mail(self, email.utils.parseaddr(address)[1])


def ses_delete_identity(self: SESBackend, identity: str) -> None:
    """DeleteIdentity: moto's; an armed address must be verified again."""
    MOTO_SES_DELETE_IDENTITY(self, identity)
    forget_verification(sesv2_backends[self.account_id][self.region_name], identity)


V1_STATUSES = {"SUCCESS": "Success", "PENDING": "Pending", "FAILED": "Failed",
               "TEMPORARY_FAILURE": "TemporaryFailure", "NOT_STARTED": "NotStarted"}


def ses_get_identity_verification_attributes(self: SESBackend, identities=None) -> dict:
    """GetIdentityVerificationAttributes: moto says Success for every identity; this gives the status
    SES v2 shows (test controls and armed addresses included), and a token only for domains."""
    sesv2 = sesv2_backends[self.account_id][self.region_name]
    answer = {}
    for name in identities or []:
        identity = self.email_identities.get(name)
        if identity is None:
            continue
        status, _ = identity_statuses(sesv2, identity, consume=False)
        answer[name] = {"VerificationStatus": V1_STATUSES.get(status, status)}
        if identity.identity_type == "DOMAIN":
            answer[name]["VerificationToken"] = base64.b64encode(hashlib.sha256(name.encode()).digest()).decode()
    return answer


MOTO_SES_SEND_EMAIL = SESBackend.send_email
MOTO_SES_SEND_RAW_EMAIL = SESBackend.send_raw_email
MOTO_SES_VERIFY_EMAIL_IDENTITY = SESBackend.verify_email_identity
MOTO_SES_VERIFY_EMAIL_ADDRESS = SESBackend.verify_email_address
MOTO_SES_DELETE_IDENTITY = SESBackend.delete_identity
SES_BACKEND_PATCHES = {
    "send_email": ses_send_email,
    "send_raw_email": ses_send_raw_email,
    "verify_email_identity": ses_verify_email_identity,
    "verify_email_address": ses_verify_email_address,
    "delete_identity": ses_delete_identity,
    "get_identity_verification_attributes": ses_get_identity_verification_attributes,
}


def verify_link(request: Request) -> Response:
    """GET /_ocp_aws_test/verify-link: see the module docstring."""
    query = request.args
    token = query.get("X-Amz-Signature", "")
    with LOCK:
        found = LINK_TOKENS.get(token)
        mail = None
        if found is not None:
            account, region, address = found
            mail = account_state(sesv2_backends[account][region]).verification_mails.get(address)
            if mail is None or mail.token != token or query.get("Identity.IdentityName") != address \
                    or query.get("Context") != account:
                mail = None
        if mail is None:
            page = "<html><body><h1>Error</h1><p>The link you followed is invalid or has expired.</p></body></html>"
            return Response(page, status=400, mimetype="text/html")
        LINK_TOKENS.pop(token, None)
        mail.token = None
        mail.verified = True
        mail.followed += 1
    response = Response("", status=302)
    response.headers["Location"] = f"{request.host_url}{CONTROL_PREFIX[1:]}verify-link/done"
    return response


def verify_link_done(request: Request) -> Response:
    """GET /_ocp_aws_test/verify-link/done: the page AWS shows after a verification."""
    page = (
        "<html><head><title>Email Address Verification Request</title></head><body>"
        "<h1>Congratulations!</h1><p>You have successfully verified an email address. You can now start "
        "sending email from this address.</p></body></html>"
    )
    return Response(page, status=200, mimetype="text/html")


LINK_PAGES = {"verify-link": verify_link, "verify-link/done": verify_link_done}
# --- STS -----------------------------------------------------------------------------------------


def get_caller_identity(self: TokenResponse):
    """GetCallerIdentity: the signature of a key moto's IAM holds is checked, as AWS checks it."""
    access_key = self.get_access_key()
    account = get_account_id_from(access_key)
    held = iam_backends[account][get_partition(self.region)].access_keys.get(access_key)
    if held is not None:
        if held.status != "Active":
            # moto's own authentication looks keys up regardless of their status.
            return sts_error("InvalidClientTokenId", "The security token included in the request is invalid.")
        query = urlsplit(self.uri).query
        try:
            IAMRequest(
                account_id=account,
                method=self.method,
                path=self.raw_path + (f"?{query}" if query else ""),
                data=self.data,
                body=self.raw_body,
                headers=self.headers,
                action="GetCallerIdentity",
            ).check_signature()
        except SignatureDoesNotMatchError as refused:
            return sts_error("SignatureDoesNotMatch", refused.message)
    return MOTO_GET_CALLER_IDENTITY(self)


def sts_error(code: str, message: str) -> tuple[str, dict]:
    """A 403 in the shape AWS's query protocol gives it (moto's own nests it under Errors)."""
    body = (
        '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
        f"<Code>{code}</Code><Message>{message}</Message></Error><RequestId>{random_token(36)}</RequestId>"
        "</ErrorResponse>"
    )
    return body, {"status": 403, "Content-Type": "text/xml"}


MOTO_GET_CALLER_IDENTITY = TokenResponse.get_caller_identity


# --- Test controls -------------------------------------------------------------------------------


def control_backend(body: dict, request: Request) -> SESV2Backend:
    account = body.get("AccountId") or request.headers.get("x-moto-account-id")
    account = account or os.environ.get("MOTO_ACCOUNT_ID") or DEFAULT_ACCOUNT_ID
    return sesv2_backends[str(account)][body.get("Region") or DEFAULT_REGION]


def control_identity_status(body: dict, request: Request) -> str | None:
    """POST /_ocp_aws_test/identity-status: see the module docstring."""
    name = body.get("EmailIdentity")
    control = StatusControl(
        pending_reads=body.get("PendingReads", 0),
        status=body.get("Status", "SUCCESS"),
        mail_from_pending_reads=body.get("MailFromPendingReads", 0),
        mail_from_status=body.get("MailFromStatus", StatusControl.mail_from_status),
    )
    if not isinstance(name, str) or not name:
        return "EmailIdentity is required."
    for count in (control.pending_reads, control.mail_from_pending_reads):
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            return "PendingReads and MailFromPendingReads must be whole numbers >= 0."
    if control.status not in CONTROL_STATUSES or control.mail_from_status not in CONTROL_STATUSES:
        return f"Status and MailFromStatus must be one of {', '.join(CONTROL_STATUSES)}."
    with LOCK:
        account_state(control_backend(body, request)).identity_controls[name] = control
    return None


def control_mail_from_status(body: dict, request: Request) -> str | None:
    """POST /_ocp_aws_test/mail-from-status: see the module docstring."""
    name = body.get("EmailIdentity")
    status = body.get("Status")
    pending = body.get("PendingReads", 0)
    if not isinstance(name, str) or not name:
        return "EmailIdentity is required."
    if status not in CONTROL_STATUSES:
        return f"Status must be one of {', '.join(CONTROL_STATUSES)}."
    if not isinstance(pending, int) or isinstance(pending, bool) or pending < 0:
        return "PendingReads must be a whole number >= 0."
    with LOCK:
        controls = account_state(control_backend(body, request)).identity_controls
        control = controls.setdefault(name, StatusControl())
        control.mail_from_status = status
        control.mail_from_pending_reads = pending
    return None


def control_recorded_operations(body: dict, request: Request) -> dict | str:
    """POST /_ocp_aws_test/recorded-operations: see the module docstring."""
    key = body.get("AccessKeyId")
    if key is not None and not isinstance(key, str):
        return "AccessKeyId must be a string."
    return {"Operations": [entry for entry in RECORDING.operations() if key is None or entry["AccessKeyId"] == key]}


def control_account_review(body: dict, request: Request) -> str | None:
    """POST /_ocp_aws_test/account-review: see the module docstring."""
    status = body.get("Status")
    if status not in ("GRANTED", "DENIED"):
        return "Status must be GRANTED or DENIED."
    with LOCK:
        account = account_state(control_backend(body, request))
        if status == "DENIED" and account.details is None:
            return "No account details were put, so there is no review to deny."
        if status == "GRANTED":
            account.production_access = True
        if account.details is not None:
            review = account.details.setdefault("ReviewDetails", {"CaseId": random_case_id()})
            review["Status"] = status
    return None


def control_subscription_pending(body: dict, request: Request) -> str | None:
    """POST /_ocp_aws_test/subscription-pending: see the module docstring."""
    endpoint = body.get("Endpoint")
    reads = body.get("ConfirmAfterReads")
    if not isinstance(endpoint, str) or not endpoint:
        return "Endpoint is required."
    if reads is not None and (not isinstance(reads, int) or isinstance(reads, bool) or reads < 0):
        return "ConfirmAfterReads must be a whole number >= 0."
    account = body.get("AccountId") or request.headers.get("x-moto-account-id")
    account = account or os.environ.get("MOTO_ACCOUNT_ID") or DEFAULT_ACCOUNT_ID
    with LOCK:
        pending_controls(sns_backends[str(account)][body.get("Region") or DEFAULT_REGION])[endpoint] = reads
    return None


def control_db_instance_status(body: dict, request: Request) -> str | None:
    """POST /_ocp_aws_test/db-instance-status: see the module docstring."""
    name = body.get("DBInstanceIdentifier")
    statuses = body.get("Statuses")
    if not isinstance(name, str) or not name:
        return "DBInstanceIdentifier is required."
    if not isinstance(statuses, list) or not all(isinstance(st, str) and st for st in statuses):
        return "Statuses must be a list of status names."
    account = body.get("AccountId") or request.headers.get("x-moto-account-id")
    account = account or os.environ.get("MOTO_ACCOUNT_ID") or DEFAULT_ACCOUNT_ID
    with LOCK:
        status_controls(rds_backends[str(account)][body.get("Region") or DEFAULT_REGION])[name] = list(statuses)
    return None


def control_verification_mail(body: dict, request: Request) -> str | None:
    """POST /_ocp_aws_test/verification-mail: see the module docstring."""
    address = body.get("EmailIdentity")
    region = body.get("Region") or DEFAULT_REGION
    link_base = body.get("LinkBase", f"https://email-verification.{region}.amazonaws.com/")
    if not isinstance(address, str) or "@" not in address:
        return "EmailIdentity must be an email address."
    if not isinstance(link_base, str) or urlsplit(link_base).scheme not in ("http", "https"):
        return "LinkBase must be an http(s) URL."
    with LOCK:
        account_state(control_backend(body, request)).verification_mails[address] = VerificationMail(link_base)
    return None


def control_verification_mail_status(body: dict, request: Request) -> dict | str:
    """POST /_ocp_aws_test/verification-mail-status: see the module docstring."""
    address = body.get("EmailIdentity")
    with LOCK:
        mail = account_state(control_backend(body, request)).verification_mails.get(address)
        if mail is None:
            return f"No verification mail is armed for {address}."
        return {"Sent": mail.sent, "Delivered": mail.delivered, "Followed": mail.followed}


def control_delivery_authentication(body: dict, request: Request) -> str | None:
    """POST /_ocp_aws_test/delivery-authentication: see the module docstring."""
    recipient = body.get("Recipient")
    if not isinstance(recipient, str) or "@" not in recipient:
        return "Recipient must be an email address."
    verdicts = {key: body[key] for key in ("Dkim", "Spf", "Dmarc") if key in body}
    if any(value not in VERDICTS for value in verdicts.values()):
        return f"Dkim, Spf and Dmarc must be one of {', '.join(VERDICTS)}."
    with LOCK:
        account_state(control_backend(body, request)).delivery_overrides[recipient.lower()] = verdicts
    return None


CONTROLS = {
    "verification-mail": control_verification_mail,
    "verification-mail-status": control_verification_mail_status,
    "delivery-authentication": control_delivery_authentication,
    "db-instance-status": control_db_instance_status,
    "subscription-pending": control_subscription_pending,
    "identity-status": control_identity_status,
    "mail-from-status": control_mail_from_status,
    "account-review": control_account_review,
    "recorded-operations": control_recorded_operations,
}


def control_app(environ, start_response):
    """WSGI app for the test controls; each control returns None (done), an answer (a dict) or an error
    message."""
    request = Request(environ)
    page = LINK_PAGES.get(request.path[len(CONTROL_PREFIX) :])
    if page is not None and request.method == "GET":
        return page(request)(environ, start_response)
    control = CONTROLS.get(request.path[len(CONTROL_PREFIX) :])
    if control is None or request.method != "POST":
        message, status = f"No test control {request.method} {request.path}.", 404
    else:
        try:
            body = json.loads(request.get_data() or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            message, status = "The body must be a JSON object.", 400
        else:
            message = control(body, request)
            status = 400 if isinstance(message, str) else 200
    if isinstance(message, dict):
        payload, message = message, None
    else:
        payload = {"message": message} if message else {}
    return Response(json.dumps(payload), status=status, mimetype="application/json")(environ, start_response)


# --- Requests AWS refuses, and the request recording ---------------------------------------------

# Maps a request to a moto backend with moto's own rules (the SigV4 scope, SES v2's /v2/ paths, ...);
# it only looks at the request, so one instance serves every thread.
DISPATCH = DomainDispatcherApplication(create_app=None)


def headers_of(environ: dict) -> dict:
    headers = {key[5:].replace("_", "-").lower(): value for key, value in environ.items() if key.startswith("HTTP_")}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = environ[key]
    return headers


def read_body(environ: dict) -> bytes:
    """The request body, read once and put back for moto."""
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = environ.get("CONTENT_LENGTH")
    if length:
        body = stream.read(int(length))
    elif environ.get("wsgi.input_terminated"):
        body = stream.read()
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    return body


def operation_of(request: aws_model.Request) -> aws_model.Operation | None:
    """The AWS operation of a signed request (None for unsigned ones and ones no model names)."""
    authorization = request.headers.get("authorization")
    if not authorization:
        return None
    environ = {
        "HTTP_AUTHORIZATION": authorization,
        "PATH_INFO": unquote(request.path),
        "HTTP_HOST": request.headers.get("host", ""),
    }
    if "x-amz-target" in request.headers:
        environ["HTTP_X_AMZ_TARGET"] = request.headers["x-amz-target"]
    try:
        host = DISPATCH.infer_service_region_host(environ, environ["PATH_INFO"])
        backend = DISPATCH.get_backend_for_host(host)
    except (KeyError, IndexError, ValueError):
        return None
    return aws_model.identify(request, backend)


def refusal(environ: dict):
    """The error response AWS would give a request with invalid parameters, or None."""
    if "HTTP_AUTHORIZATION" not in environ:
        return None
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or environ.get("PATH_INFO", "")
    if raw.startswith(("http://", "https://")):
        split = urlsplit(raw)
        raw = split.path + (f"?{split.query}" if split.query else "")
    path, _, query = raw.partition("?")
    request = aws_model.Request(
        environ.get("REQUEST_METHOD", "GET"),
        path,
        query or environ.get("QUERY_STRING", ""),
        headers_of(environ),
        read_body(environ),
    )
    operation = operation_of(request)
    if operation is None:
        return None
    try:
        message = aws_model.problems(aws_model.params_of(request, operation), operation)
    except aws_model.Unparseable as why:
        log(f"not validated: {operation.service_id} {operation.name}: {why}")
        return None
    if message is None:
        return None
    log(f"refused {operation.service_id} {operation.name}: {' / '.join(message.splitlines())}")
    status, headers, body = aws_model.error_response(operation, message, random_token(16).upper())
    return Response(body, status=status, headers=headers)


def log(message: str) -> None:
    print(f"moto_server: {message}", file=sys.stderr, flush=True)


class Recording:
    """moto's request recording, read as operations: each line of the recorder's file, classified once."""

    def __init__(self):
        self.lock = threading.Lock()
        self.offset = 0
        self.entries: list[dict] = []

    def operations(self) -> list[dict]:
        path = recorder._location
        with self.lock:
            try:
                size = os.path.getsize(path)
            except OSError:
                size = 0
            if size < self.offset:  # reset-recording truncated it
                self.offset, self.entries = 0, []
            if size > self.offset:
                with open(path, "rb") as file:
                    file.seek(self.offset)
                    chunk = file.read(size - self.offset)
                complete = chunk.rfind(b"\n") + 1
                self.offset += complete
                for line in chunk[:complete].splitlines():
                    if line.strip():
                        self.entries.append(classify(json.loads(line)))
            return list(self.entries)


def classify(entry: dict) -> dict:
    """{AccessKeyId, Service, Operation, Read, Method, Path} of one recorded request."""
    split = urlsplit(entry.get("url", ""))
    body = entry.get("body") or ""
    body = base64.b64decode(body) if entry.get("body_encoded") else body.encode("utf-8", "replace")
    headers = {key.lower(): value for key, value in (entry.get("headers") or {}).items()}
    method = entry.get("method", "GET")
    request = aws_model.Request(method, split.path, split.query, headers, body)
    operation = operation_of(request)
    return {
        "AccessKeyId": request.access_key_id(),
        "Service": operation.service_id if operation else None,
        "Operation": operation.name if operation else None,
        # Without a model's word, only what HTTP says cannot change anything counts as a read.
        "Read": operation.is_read if operation else method in ("GET", "HEAD"),
        "Method": method,
        "Path": split.path,
    }


RECORDING = Recording()


# --- IAM conflicts moto does not enforce -----------------------------------------------------------


def delete_policy(self: IAMBackend, policy_arn: str) -> None:
    """DeletePolicy: AWS refuses a policy that is still attached, or that has versions besides the
    default, with 409 DeleteConflict; moto deletes it."""
    policy = self.get_policy(policy_arn)
    if policy.attachment_count > 0:
        raise DeleteConflictException("Cannot delete a policy attached to entities.")
    if len(policy.versions) > 1:
        raise DeleteConflictException(
            "This policy has more than one version. Before you delete a policy, you must delete the policy's "
            "versions. The default version is deleted with the policy."
        )
    MOTO_DELETE_POLICY(self, policy_arn)


MOTO_DELETE_POLICY = IAMBackend.delete_policy


# --- Installation --------------------------------------------------------------------------------


def install() -> None:
    """Apply every patch above to the moto modules loaded in this process."""
    if moto.__version__ != MOTO_VERSION:
        sys.exit(
            f"{__file__} patches moto {MOTO_VERSION}, but moto {moto.__version__} is installed: "
            "re-check each patch in its docstring against that version, then update the pin."
        )
    for method, url in ROUTES.items():
        setattr(SESV2Response, method, globals()[method])
        if url is not None:
            sesv2_urls.url_paths[url] = SESV2Response.dispatch

    for method in SES_V1_ROUTES:
        setattr(EmailResponse, method, globals()[method])
    for method, patch in SES_BACKEND_PATCHES.items():
        setattr(SESBackend, method, patch)
    SNSBackend.subscribe = sns_subscribe
    SNSResponse.list_subscriptions_by_topic = list_subscriptions_by_topic
    SNSResponse.unsubscribe = sns_unsubscribe
    SNSResponse.set_topic_attributes = set_topic_attributes

    IAMBackend.delete_policy = delete_policy
    for method in RDS_ROUTES:
        setattr(RDSResponse, method, globals()[method])
    SecurityGroupBackend._delete_security_group = delete_security_group
    TokenResponse.get_caller_identity = get_caller_identity
    # moto lists its own package folder (some 200 stat calls) on every request to find the backend,
    # under the dispatcher's lock; the folder does not change while the server runs.
    modules = frozenset(moto.backends.list_of_moto_modules())
    moto.backends.list_of_moto_modules = lambda: modules
    # Every request is recorded from the start, so tests count their own writes by access key id.
    recorder.start_recording()
    moto_call = DomainDispatcherApplication.__call__

    def call(self, environ, start_response):
        if environ.get("PATH_INFO", "").startswith(CONTROL_PREFIX):
            return control_app(environ, start_response)
        refused = refusal(environ)
        if refused is not None:
            # Recorded like any request moto answers: the tool did send it.
            recorder._record_request(MotoRequest(environ))
            return refused(environ, start_response)
        return moto_call(self, environ, start_response)

    DomainDispatcherApplication.__call__ = call


if __name__ == "__main__":
    install()
    moto.server.main(sys.argv[1:])
