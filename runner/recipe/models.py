"""The recipe language, version 1, as pydantic models: the one place the language is defined.

The loader validates documents against these models, `runner schema` generates the JSON Schema from
them, and the compiler turns them into runtime objects. Strings that may hold datapills are typed
`str` here; the linter finds and compiles them (see `runner.recipe.walk`).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from runner.recipe.fields import (
    Duration,
    HttpUrl,
    Identifier,
    MappingOrTemplate,
    Method,
    Name,
    PositiveDuration,
    RetryCondition,
    Scopes,
    Size,
    Status,
    StatusOrTemplate,
    StepId,
    WebhookPath,
)
from runner.recipe.yamlsource import yaml_text

DEFAULT_REDIRECT_URI = "http://127.0.0.1:8765/oauth/callback"
DEFAULT_RETRY_ON = ("429", "502", "503", "504", "timeout", "connection")


class Spec(BaseModel):
    """Base of every model: unknown keys are errors; records which model read which mapping."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="before")
    @classmethod
    def _remember_model(cls, data: Any, info: ValidationInfo) -> Any:
        # The loader maps "unknown key" errors back to the model's own key list through this.
        if isinstance(info.context, dict) and isinstance(data, dict):
            info.context.setdefault("models", {})[id(data)] = cls
        return data

    @classmethod
    def keys(cls) -> list[str]:
        """The keys a document may use for this model, in declaration order."""
        return [field.alias or name for name, field in cls.model_fields.items()]


def _present(spec: Spec, names: tuple[str, ...]) -> list[str]:
    """The keys among `names` that the document wrote (checked after the fields validated)."""
    by_alias = {field.alias or name: name for name, field in type(spec).model_fields.items()}
    return [n for n in names if by_alias.get(n, n) in spec.model_fields_set]


def _exactly_one(spec: Spec, names: tuple[str, ...], where: str) -> None:
    present = _present(spec, names)
    if len(present) != 1:
        options = " or ".join(f"'{n}'" for n in names)
        found = ", ".join(f"'{n}'" for n in present) if present else "none"
        raise ValueError(f"{where} needs exactly one of {options} (found {found})")


def _at_most_one(spec: Spec, names: tuple[str, ...], where: str) -> None:
    present = _present(spec, names)
    if len(present) > 1:
        raise ValueError(f"{where} takes only one of {', '.join(names)} (found {', '.join(present)})")


def _version_one(value: Any) -> Any:
    # `Literal[1]` alone lets `version: true` and `version: 1.0` through, because in Python
    # True == 1.0 == 1; the language allows only the integer 1.
    if type(value) is int and value == 1:
        return value
    raise ValueError(
        f"{yaml_text(value)} is not allowed; expected 1 (the integer: the only version of the "
        "recipe language)"
    )


#: `version:` of every document: only the integer 1 (the JSON Schema says `const: 1`).
Version = Annotated[Literal[1], BeforeValidator(_version_one)]


# ---------------------------------------------------------------------------------------------
# Connection building blocks


class RetrySpec(Spec):
    """When and how often a failed request is tried again."""

    attempts: Annotated[int, Field(ge=1, le=10)] = 3
    backoff: Duration = 1.0
    max_backoff: Duration = 60.0
    on: list[RetryCondition] = Field(default_factory=lambda: list(DEFAULT_RETRY_ON))


class RateLimitSpec(Spec):
    """At most `requests` per `per`, shared by every job of the process using the connection."""

    requests: Annotated[int, Field(ge=1)]
    per: PositiveDuration = 1.0


class TLSSpec(Spec):
    """Server verification and the client certificate; relative paths are from the document's file."""

    verify: bool = True
    ca_bundle: str | None = None
    client_cert: str | None = None
    client_key: str | None = None

    @model_validator(mode="after")
    def _key_needs_cert(self) -> TLSSpec:
        if self.client_key and not self.client_cert:
            raise ValueError("tls.client_key needs tls.client_cert")
        return self


class RequestFields(Spec):
    """What every request has: method, URL, parameters, headers, a body and its expectations."""

    method: Method = "GET"
    url: str
    params: MappingOrTemplate = Field(default_factory=dict)
    headers: MappingOrTemplate = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")
    form: MappingOrTemplate | None = None
    body: str | None = None
    content_type: str | None = None
    expect: list[Status] | None = None
    timeout: PositiveDuration | None = None

    @model_validator(mode="after")
    def _one_body(self) -> RequestFields:
        _at_most_one(self, ("json", "form", "body"), "a request")
        return self

    @property
    def has_json(self) -> bool:
        return "json_body" in self.model_fields_set


class TestRequestSpec(RequestFields):
    """The request `runner connection test NAME` sends."""

    __test__: ClassVar[bool] = False  # not a pytest test class


# ---------------------------------------------------------------------------------------------
# Authentication


class NoAuth(Spec):
    type: Literal["none"]


class BasicAuth(Spec):
    type: Literal["basic"]
    username: str
    password: str = ""


class HeaderAuth(Spec):
    type: Literal["header"]
    headers: Annotated[dict[str, str], Field(min_length=1)]


class QueryAuth(Spec):
    type: Literal["query"]
    params: Annotated[dict[str, str], Field(min_length=1)]


class CustomAuth(Spec):
    type: Literal["custom"]
    headers: dict[str, str] = Field(default_factory=dict)
    params: dict[str, str] = Field(default_factory=dict)
    username: str | None = None
    password: str | None = None

    @model_validator(mode="after")
    def _pairs(self) -> CustomAuth:
        if self.password is not None and self.username is None:
            raise ValueError("custom auth: password needs username")
        return self


TokenAuth = Literal["client_secret_post", "client_secret_basic"]


# Authorization-URL parameters the flow sets itself: `auth_params` may not override them (a
# `redirect_uri` or `state` of the author's would break the flow or its CSRF check).
RESERVED_AUTH_PARAMS = frozenset({
    "response_type", "client_id", "redirect_uri", "scope", "state", "code_challenge",
    "code_challenge_method",
})


class OAuth2AuthorizationCodeAuth(Spec):
    type: Literal["oauth2_authorization_code"]
    authorization_url: HttpUrl
    token_url: HttpUrl
    client_id: str
    client_secret: str | None = None
    scopes: Scopes = Field(default_factory=list)
    redirect_uri: HttpUrl = DEFAULT_REDIRECT_URI
    pkce: bool = True
    auth_params: dict[str, str] = Field(default_factory=dict)
    token_auth: TokenAuth = "client_secret_post"

    @field_validator("auth_params", mode="before")
    @classmethod
    def _as_text(cls, params: Any) -> Any:
        """Numbers and booleans as URL parameters write them (`max_age: 0`, `true`), as a
        request's `params` accepts them."""
        if not isinstance(params, dict):
            return params
        return {k: ("true" if v is True else "false" if v is False else str(v))
                if isinstance(v, (bool, int, float)) else v for k, v in params.items()}

    @field_validator("auth_params")
    @classmethod
    def _not_reserved(cls, params: dict[str, str]) -> dict[str, str]:
        clash = sorted(RESERVED_AUTH_PARAMS & set(params))
        if clash:
            raise ValueError(f"auth_params may not set {', '.join(clash)}: the authorization "
                             "flow sets them itself (scopes go in `scopes`)")
        return params


class OAuth2ClientCredentialsAuth(Spec):
    type: Literal["oauth2_client_credentials"]
    token_url: HttpUrl
    client_id: str
    client_secret: str
    scopes: Scopes = Field(default_factory=list)
    audience: str | None = None
    token_auth: TokenAuth = "client_secret_post"


AuthSpec = Annotated[
    NoAuth
    | BasicAuth
    | HeaderAuth
    | QueryAuth
    | CustomAuth
    | OAuth2AuthorizationCodeAuth
    | OAuth2ClientCredentialsAuth,
    Field(discriminator="type"),
]


class ConnectionSpec(Spec):
    """`kind: connection`: an HTTP API, where it is, how to authenticate, how to reach it."""

    kind: Literal["connection"]
    version: Version = 1
    name: Name
    description: str | None = None
    base_url: HttpUrl | None = None
    auth: AuthSpec = Field(default_factory=lambda: NoAuth(type="none"))
    headers: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    tls: TLSSpec = Field(default_factory=TLSSpec)
    proxy: str | None = None
    private_network: bool = False
    allow_hosts: list[str] | None = None
    timeout: PositiveDuration = 30.0
    rate_limit: RateLimitSpec | None = None
    retry: RetrySpec | None = None
    test: TestRequestSpec | None = None
    # An OpenAPI 3.0/3.1 document describing the API, relative to this file (`runner.openapi`).
    openapi: Annotated[str, Field(min_length=1)] | None = None


# ---------------------------------------------------------------------------------------------
# Recipes


class StepRequestSpec(RequestFields):
    """A "make request" action: a request that may name the connection it goes through."""

    connection: Name | None = None


class StepSpec(Spec):
    """One step of a recipe."""

    id: StepId
    description: str | None = None
    if_: str | bool | None = Field(default=None, alias="if")
    for_each: str | list[Any] | None = None
    request: StepRequestSpec
    retry: RetrySpec | None = None
    on_error: Literal["fail", "continue"] = "fail"
    idempotency_key: bool = True
    openapi: bool = True  # false: not checked against the connection's OpenAPI document


class HmacWebhookAuth(Spec):
    type: Literal["hmac"]
    secret: str
    header: str = "X-Signature"
    algorithm: Literal["sha1", "sha256", "sha512"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    prefix: str = ""


class BasicWebhookAuth(Spec):
    type: Literal["basic"]
    username: str
    password: str


class HeaderWebhookAuth(Spec):
    type: Literal["header"]
    header: str = "Authorization"
    value: str


class PresetWebhookAuth(Spec):
    type: Literal["github", "stripe", "slack", "standard_webhooks"]
    secret: str


WebhookAuthSpec = Annotated[
    HmacWebhookAuth | BasicWebhookAuth | HeaderWebhookAuth | PresetWebhookAuth,
    Field(discriminator="type"),
]


class WebhookResponseSpec(Spec):
    """What a `respond: sync` webhook answers once its job has finished."""

    status: StatusOrTemplate = 200
    headers: dict[str, Any] = Field(default_factory=dict)
    body: Any = None


class WebhookSpec(Spec):
    """A URL that apps post events to; every accepted request is one job."""

    path: WebhookPath | None = None
    methods: Annotated[list[Method], Field(min_length=1)] = Field(
        default_factory=lambda: list[Method](["POST"])
    )
    auth: WebhookAuthSpec | None = None
    tolerance: Duration = 300.0
    max_body: Size = 1024 * 1024
    dedup: str | None = None
    respond: Literal["accepted", "sync"] = "accepted"
    response: WebhookResponseSpec | None = None
    timeout: PositiveDuration = 30.0


class PollRequestSpec(RequestFields):
    """The request a poller sends; its connection is named on the poll itself."""


class PollSpec(Spec):
    """Calls an endpoint on a schedule and emits each new or updated record exactly once."""

    connection: Name | None = None
    every: PositiveDuration | None = None
    schedule: str | None = None
    request: PollRequestSpec
    records: str = "{{ response.body }}"
    key: str
    updated: str | None = None
    cursor: str | None = None
    next_page: str | None = None
    max_pages: Annotated[int, Field(ge=1, le=1000)] = 100
    initial: Literal["skip", "emit"] = "skip"

    @model_validator(mode="after")
    def _one_schedule(self) -> PollSpec:
        _exactly_one(self, ("every", "schedule"), "a poll")
        return self


class TriggerSpec(Spec):
    """Exactly one of `webhook` or `poll`."""

    webhook: WebhookSpec | None = None
    poll: PollSpec | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> TriggerSpec:
        _exactly_one(self, ("webhook", "poll"), "a trigger")
        return self


class RecipeSpec(Spec):
    """`kind: recipe`: a trigger and the steps every event runs through."""

    kind: Literal["recipe"]
    version: Version = 1
    name: Name
    description: str | None = None
    enabled: bool = True
    concurrency: Annotated[int, Field(ge=1, le=1000)] = 1
    vars: dict[Identifier, Any] = Field(default_factory=dict)
    trigger: TriggerSpec
    steps: list[StepSpec] = Field(default_factory=list)

    @property
    def webhook_path(self) -> str | None:
        """Where the webhook is served below /webhooks/: its `path`, else the recipe name."""
        hook = self.trigger.webhook
        return None if hook is None else (hook.path or self.name)


DocumentSpec = Annotated[ConnectionSpec | RecipeSpec, Field(discriminator="kind")]
