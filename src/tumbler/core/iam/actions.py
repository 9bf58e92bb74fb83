"""What each operation asks IAM: the action, the resource it is checked on, and the request's condition keys.

The facts come from AWS's Service Authorization Reference ("Actions, resources, and condition keys for AWS Secrets
Manager / AWS Lambda / AWS Identity and Access Management / AWS Security Token Service") and from the "Required
permissions" text of the botocore models. A request-side key is set only for the actions the reference lists it for,
and only when the request carries what it describes.

``facts(service, operation, params, account=..., region=...)`` turns one validated request (botocore member names,
as ``wire`` parses them) into the ``Check`` list the server evaluates in order: the operation's own action first,
then the dependent actions AWS also requires of the caller. It reads nothing but its arguments, so resources that
only storage can name are marked for the server to resolve (``Resolve``). ``secret_resource_keys`` and
``iam_resource_keys`` give the resource-side keys once the server has the resource.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from tumbler.core.iam.request import ContextValue

PARTITION = "aws"
LAMBDA_SERVICE = "lambda.amazonaws.com"

Params = Mapping[str, Any]
Context = dict[str, ContextValue]


class ResourceType(StrEnum):
    """The reference's resource types, plus NONE for actions that take no resource (the policy must say "*")."""

    NONE = "*"
    SECRET = "secret"
    FUNCTION = "function"
    USER = "user"
    ROLE = "role"
    GROUP = "group"
    POLICY = "policy"


class Resolve(StrEnum):
    """What the server must look up before it can evaluate a check; core cannot read storage."""

    NOTHING = "nothing"  # ``Target.arn`` is final
    # ``name`` is a SecretId as the caller passed it: a name, a partial ARN or a full ARN. Evaluate against the
    # secret's full ARN; AccessDenied messages quote ``name`` unchanged, as AWS does.
    SECRET = "secret"
    # ``name`` is the Name of a secret being created: evaluate against the ARN it will get (with its random suffix).
    NEW_SECRET = "new-secret"
    # ``name`` is a SecretId; the function is the rotation function the secret is configured with (none: no check).
    ROTATION_FUNCTION = "rotation-function"
    # ``arn`` assumes the path "/": use the entity's stored path when it exists.
    IAM_PATH = "iam-path"
    # No UserName was passed: the resource is the calling user itself.
    CALLER = "caller"


@dataclass(frozen=True)
class Target:
    """The resource a check is evaluated on. ``name`` is the resource as the request named it."""

    type: ResourceType
    name: str = ""
    arn: str | None = None
    resolve: Resolve = Resolve.NOTHING

    @property
    def resource(self) -> str:
        """The Request.resource to evaluate against, once resolved: the ARN, or "*" for NONE."""
        if self.type is ResourceType.NONE:
            return "*"
        if self.arn is None:
            raise ValueError(f"{self.type} {self.name!r} must be resolved first ({self.resolve})")
        return self.arn

    def resolved(self, arn: str) -> Target:
        return replace(self, arn=arn, resolve=Resolve.NOTHING)


@dataclass(frozen=True)
class Check:
    """One authorization the caller needs: ``action`` on ``target`` with the request-side ``context`` keys.

    ``partial`` marks a per-item check whose denial fails only that item (BatchGetSecretValue reports it in its
    Errors list) rather than the whole call.
    """

    action: str
    target: Target
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    partial: bool = False


KeyRule = Callable[[Params], Context]


@dataclass(frozen=True)
class Operation:
    """The static facts of one operation. ``keys`` names every request-side key ``context`` can produce."""

    service: str
    name: str
    action: str
    resource: ResourceType
    id_param: str | None
    keys: tuple[str, ...]
    context: KeyRule
    target: Callable[[Params, str, str], Target]
    dependents: Callable[[Params, Target, str, str], list[Check]]


# --- condition-key rules: each reads one request member --------------------------------------------------------


def _text(key: str, member: str) -> KeyRule:
    def rule(params: Params) -> Context:
        value = params.get(member)
        return {} if value is None else {key: str(value)}

    return rule


def _flag(key: str, member: str) -> KeyRule:
    def rule(params: Params) -> Context:
        value = params.get(member)
        return {} if value is None else {key: "true" if value else "false"}

    return rule


def _strings(key: str, member: str, field_name: str | None = None) -> KeyRule:
    """A multivalued key from a list member (of structures when ``field_name`` is given)."""

    def rule(params: Params) -> Context:
        items = params.get(member)
        if items is None:
            return {}
        # A malformed item (no field) is the operation's to refuse: it brings no value here.
        values = (item.get(field_name) if field_name else item for item in items)
        return {key: [str(value) for value in values if value is not None]}

    return rule


def _nested_strings(key: str, member: str, inner: str) -> KeyRule:
    def rule(params: Params) -> Context:
        values = (params.get(member) or {}).get(inner)
        return {} if values is None else {key: [str(value) for value in values]}

    return rule


def _tag_pairs(tags: Any) -> list[tuple[str, str]]:
    """Tags as (key, value) pairs, whether a list of {Key, Value} (SM, IAM, STS) or a map (Lambda)."""
    if isinstance(tags, Mapping):
        return [(str(k), str(v)) for k, v in tags.items()]
    # A tag without a Key is the operation's to refuse (it names no condition key here).
    return [(str(tag["Key"]), str(tag.get("Value", ""))) for tag in tags if tag.get("Key") is not None]


def _request_tags(member: str = "Tags") -> KeyRule:
    """aws:RequestTag/KEY for each tag in the request, and aws:TagKeys listing their keys."""

    def rule(params: Params) -> Context:
        tags = params.get(member)
        if tags is None:
            return {}
        pairs = _tag_pairs(tags)
        keys: Context = {f"aws:RequestTag/{key}": value for key, value in pairs}
        keys["aws:TagKeys"] = [key for key, _ in pairs]
        return keys

    return rule


def _kms_key_arn(params: Params) -> Context:
    # secretsmanager:KmsKeyArn holds a key ARN; an alias or a bare key id would need KMS to resolve, which
    # Tumbler does not have, so only a KmsKeyId that already is a key ARN sets it.
    value = params.get("KmsKeyId")
    if isinstance(value, str) and value.startswith("arn:") and ":key/" in value:
        return {"secretsmanager:KmsKeyArn": value}
    return {}


def _modify_rotation_rules(params: Params) -> Context:
    # The request modifies the rotation rules exactly when it carries RotationRules.
    return {"secretsmanager:ModifyRotationRules": "true" if params.get("RotationRules") is not None else "false"}


def _passed_to_lambda(_: Params) -> Context:
    return {"iam:PassedToService": LAMBDA_SERVICE}


def _rules(*rules: KeyRule) -> KeyRule:
    def combined(params: Params) -> Context:
        keys: Context = {}
        for rule in rules:
            keys.update(rule(params))
        return keys

    return combined


NO_KEYS: KeyRule = _rules()
REQUEST_TAG_KEYS = ("aws:RequestTag/${TagKey}", "aws:TagKeys")


# --- targets -----------------------------------------------------------------------------------------------------


def _no_resource(_: Params, __: str, ___: str) -> Target:
    return Target(ResourceType.NONE)


def _secret(member: str = "SecretId") -> Callable[[Params, str, str], Target]:
    def target(params: Params, _: str, __: str) -> Target:
        secret_id = params.get(member)
        if secret_id is None:  # ValidateResourcePolicy without a SecretId checks the policy alone
            return Target(ResourceType.NONE)
        return Target(ResourceType.SECRET, str(secret_id), None, Resolve.SECRET)

    return target


def _new_secret(params: Params, _: str, __: str) -> Target:
    return Target(ResourceType.SECRET, str(params.get("Name", "")), None, Resolve.NEW_SECRET)


def function_arn(function_name: str, account: str, region: str, qualifier: str | None = None) -> str:
    """The ARN Lambda authorizes against for a FunctionName in any of its forms.

    A name (``my-function``), a name with a version or alias (``my-function:v1``), a partial ARN
    (``123456789012:function:my-function``) or a full ARN; ``qualifier`` (the Qualifier member) is appended
    when the name carries none.
    """
    parts = function_name.split(":")
    if function_name.startswith("arn:") and len(parts) >= 7:
        region, account, name, qualifiers = parts[3], parts[4], parts[6], parts[7:]
    elif len(parts) >= 3 and parts[1] == "function":
        account, name, qualifiers = parts[0], parts[2], parts[3:]
    else:
        name, qualifiers = parts[0], parts[1:]
    arn = f"arn:{PARTITION}:lambda:{region}:{account}:function:{name}"
    qualifier = qualifiers[0] if qualifiers else qualifier
    return f"{arn}:{qualifier}" if qualifier else arn


def _function(params: Params, account: str, region: str) -> Target:
    name = str(params.get("FunctionName", ""))
    return Target(ResourceType.FUNCTION, name, function_arn(name, account, region, params.get("Qualifier")))


def iam_arn(account: str, kind: str, name: str, path: str = "/") -> str:
    """arn:aws:iam::ACCOUNT:KIND/PATH/NAME, for KIND user, role, group or policy."""
    return f"arn:{PARTITION}:iam::{account}:{kind}{path}{name}"


def _iam_entity(kind: ResourceType, member: str) -> Callable[[Params, str, str], Target]:
    """An existing user, role or group named by ``member``; without it (users only), the caller."""

    def target(params: Params, account: str, _: str) -> Target:
        name = params.get(member)
        if name is None:
            return Target(kind, "", None, Resolve.CALLER)
        return Target(kind, str(name), iam_arn(account, kind.value, str(name)), Resolve.IAM_PATH)

    return target


def _iam_new(kind: ResourceType, member: str) -> Callable[[Params, str, str], Target]:
    """A user, role, group or policy being created: its path is in the request, so its ARN is known."""

    def target(params: Params, account: str, _: str) -> Target:
        name = str(params.get(member, ""))
        return Target(kind, name, iam_arn(account, kind.value, name, str(params.get("Path", "/"))))

    return target


def _policy_arn(params: Params, _: str, __: str) -> Target:
    arn = str(params.get("PolicyArn", ""))
    return Target(ResourceType.POLICY, arn, arn)


def _role_arn(params: Params, _: str, __: str) -> Target:
    arn = str(params.get("RoleArn", ""))
    return Target(ResourceType.ROLE, arn, arn)


# --- dependent actions -------------------------------------------------------------------------------------------


def _none(_: Params, __: Target, ___: str, ____: str) -> list[Check]:
    return []


def _create_secret_dependents(params: Params, target: Target, _: str, __: str) -> list[Check]:
    # "If you include tags in the secret, you also need secretsmanager:TagResource. To add replica Regions, you
    # must also have secretsmanager:ReplicateSecretToRegions." (CreateSecret, Required permissions)
    checks = []
    if params.get("Tags") is not None:
        checks.append(Check("secretsmanager:TagResource", target, _request_tags()(params)))
    if params.get("AddReplicaRegions") is not None:
        checks.append(Check("secretsmanager:ReplicateSecretToRegions", target, _REPLICA_KEYS(params)))
    return checks


def _batch_dependents(params: Params, _: Target, __: str, ___: str) -> list[Check]:
    # "you must have secretsmanager:GetSecretValue for each secret. If you use filters, you must also have
    # secretsmanager:ListSecrets." The secrets a filter matches are known only after listing: the server checks
    # each of them as facts("secretsmanager", "GetSecretValue", {"SecretId": arn}) would, with partial=True.
    checks = [
        Check("secretsmanager:GetSecretValue", _secret()({"SecretId": secret_id}, "", ""), partial=True)
        for secret_id in params.get("SecretIdList") or ()
    ]
    if params.get("Filters") is not None:
        checks.append(Check("secretsmanager:ListSecrets", Target(ResourceType.NONE)))
    return checks


def _rotate_dependents(params: Params, target: Target, account: str, region: str) -> list[Check]:
    # "You also need lambda:InvokeFunction permissions on the rotation function." (RotateSecret)
    lambda_arn = params.get("RotationLambdaARN")
    if lambda_arn is not None:
        function = Target(ResourceType.FUNCTION, str(lambda_arn), function_arn(str(lambda_arn), account, region))
    else:
        function = Target(ResourceType.FUNCTION, target.name, None, Resolve.ROTATION_FUNCTION)
    return [Check("lambda:InvokeFunction", function)]


def _validate_policy_dependents(_: Params, target: Target, __: str, ___: str) -> list[Check]:
    # "Required permissions: secretsmanager:ValidateResourcePolicy and secretsmanager:PutResourcePolicy."
    return [Check("secretsmanager:PutResourcePolicy", target)]


def _pass_role(params: Params, target: Target, _: str, __: str) -> list[Check]:
    # Giving a function an execution role passes the role to Lambda: iam:PassRole on it, for lambda.amazonaws.com.
    role = params.get("Role")
    if role is None:
        return []
    return [Check("iam:PassRole", Target(ResourceType.ROLE, str(role), str(role)), _passed_to_lambda(params))]


# --- the operations ----------------------------------------------------------------------------------------------

_REPLICA_KEYS = _rules(
    _strings("secretsmanager:AddReplicaRegions", "AddReplicaRegions", "Region"),
    _flag("secretsmanager:ForceOverwriteReplicaSecret", "ForceOverwriteReplicaSecret"),
)


def _op(
    service: str,
    name: str,
    resource: ResourceType,
    id_param: str | None,
    target: Callable[[Params, str, str], Target],
    keys: Sequence[str] = (),
    context: KeyRule = NO_KEYS,
    dependents: Callable[[Params, Target, str, str], list[Check]] = _none,
    action: str | None = None,
) -> Operation:
    return Operation(
        service, name, action or f"{service}:{name}", resource, id_param, tuple(keys), context, target, dependents
    )


def _secret_op(name: str, keys: Sequence[str] = (), context: KeyRule = NO_KEYS, **extra: Any) -> Operation:
    return _op("secretsmanager", name, ResourceType.SECRET, "SecretId", _secret(), keys, context, **extra)


def _sm(name: str) -> str:
    return f"secretsmanager:{name}"


SECRETS_MANAGER = (
    _op("secretsmanager", "BatchGetSecretValue", ResourceType.NONE, None, _no_resource, dependents=_batch_dependents),
    _secret_op("CancelRotateSecret"),
    _op(
        "secretsmanager",
        "CreateSecret",
        ResourceType.SECRET,
        "Name",
        _new_secret,
        (
            _sm("Name"),
            _sm("Description"),
            _sm("KmsKeyId"),
            _sm("KmsKeyArn"),
            *REQUEST_TAG_KEYS,
            _sm("AddReplicaRegions"),
            _sm("ForceOverwriteReplicaSecret"),
            _sm("Type"),
        ),
        _rules(
            _text(_sm("Name"), "Name"),
            _text(_sm("Description"), "Description"),
            _text(_sm("KmsKeyId"), "KmsKeyId"),
            _kms_key_arn,
            _request_tags(),
            _REPLICA_KEYS,
            _text(_sm("Type"), "Type"),
        ),
        dependents=_create_secret_dependents,
    ),
    _secret_op("DeleteResourcePolicy"),
    _secret_op(
        "DeleteSecret",
        (_sm("RecoveryWindowInDays"), _sm("ForceDeleteWithoutRecovery")),
        _rules(
            _text(_sm("RecoveryWindowInDays"), "RecoveryWindowInDays"),
            _flag(_sm("ForceDeleteWithoutRecovery"), "ForceDeleteWithoutRecovery"),
        ),
    ),
    _secret_op("DescribeSecret"),
    _op("secretsmanager", "GetRandomPassword", ResourceType.NONE, None, _no_resource),
    _secret_op("GetResourcePolicy"),
    _secret_op(
        "GetSecretValue",
        (_sm("VersionId"), _sm("VersionStage")),
        _rules(_text(_sm("VersionId"), "VersionId"), _text(_sm("VersionStage"), "VersionStage")),
    ),
    _secret_op("ListSecretVersionIds"),
    _op("secretsmanager", "ListSecrets", ResourceType.NONE, None, _no_resource),
    _secret_op("PutResourcePolicy", (_sm("BlockPublicPolicy"),), _flag(_sm("BlockPublicPolicy"), "BlockPublicPolicy")),
    _secret_op("PutSecretValue"),
    _secret_op("RemoveRegionsFromReplication"),
    _secret_op(
        "ReplicateSecretToRegions", (_sm("AddReplicaRegions"), _sm("ForceOverwriteReplicaSecret")), _REPLICA_KEYS
    ),
    _secret_op("RestoreSecret"),
    _secret_op(
        "RotateSecret",
        (
            _sm("RotationLambdaARN"),
            _sm("ModifyRotationRules"),
            _sm("RotateImmediately"),
            _sm("ExternalSecretRotationRoleArn"),
        ),
        _rules(
            _text(_sm("RotationLambdaARN"), "RotationLambdaARN"),
            _modify_rotation_rules,
            _flag(_sm("RotateImmediately"), "RotateImmediately"),
            _text(_sm("ExternalSecretRotationRoleArn"), "ExternalSecretRotationRoleArn"),
        ),
        dependents=_rotate_dependents,
    ),
    _secret_op("StopReplicationToReplica"),
    _secret_op("TagResource", REQUEST_TAG_KEYS, _request_tags()),
    _secret_op("UntagResource", ("aws:TagKeys",), _strings("aws:TagKeys", "TagKeys")),
    _secret_op(
        "UpdateSecret",
        (_sm("Description"), _sm("KmsKeyId"), _sm("KmsKeyArn"), _sm("Type")),
        _rules(
            _text(_sm("Description"), "Description"),
            _text(_sm("KmsKeyId"), "KmsKeyId"),
            _kms_key_arn,
            _text(_sm("Type"), "Type"),
        ),
    ),
    _secret_op("UpdateSecretVersionStage", (_sm("VersionStage"),), _text(_sm("VersionStage"), "VersionStage")),
    _op(
        "secretsmanager",
        "ValidateResourcePolicy",
        ResourceType.SECRET,
        "SecretId",
        _secret(),
        dependents=_validate_policy_dependents,
    ),
)

_VPC_KEYS = ("lambda:SecurityGroupIds", "lambda:SubnetIds")
_vpc_rules = _rules(
    _nested_strings("lambda:SecurityGroupIds", "VpcConfig", "SecurityGroupIds"),
    _nested_strings("lambda:SubnetIds", "VpcConfig", "SubnetIds"),
)


def _function_op(name: str, keys: Sequence[str] = (), context: KeyRule = NO_KEYS, **extra: Any) -> Operation:
    return _op("lambda", name, ResourceType.FUNCTION, "FunctionName", _function, keys, context, **extra)


LAMBDA = (
    _function_op(
        "CreateFunction",
        (*REQUEST_TAG_KEYS, "lambda:CodeSigningConfigArn", "lambda:Layer", *_VPC_KEYS),
        _rules(
            _request_tags(),
            _text("lambda:CodeSigningConfigArn", "CodeSigningConfigArn"),
            _strings("lambda:Layer", "Layers"),
            _vpc_rules,
        ),
        dependents=_pass_role,
    ),
    _function_op("GetFunction"),
    _function_op("GetFunctionConfiguration"),
    _op("lambda", "ListFunctions", ResourceType.NONE, None, _no_resource),
    _function_op("UpdateFunctionCode"),
    _function_op(
        "UpdateFunctionConfiguration",
        ("lambda:Layer", *_VPC_KEYS),
        _rules(_strings("lambda:Layer", "Layers"), _vpc_rules),
        dependents=_pass_role,
    ),
    _function_op("DeleteFunction"),
    _function_op("Invoke", action="lambda:InvokeFunction"),
    _function_op(
        "AddPermission",
        ("lambda:Principal", "lambda:FunctionUrlAuthType"),
        _rules(_text("lambda:Principal", "Principal"), _text("lambda:FunctionUrlAuthType", "FunctionUrlAuthType")),
    ),
    _function_op("RemovePermission"),
    _function_op("GetPolicy"),
)


_user = _iam_entity(ResourceType.USER, "UserName")
_role = _iam_entity(ResourceType.ROLE, "RoleName")
_group = _iam_entity(ResourceType.GROUP, "GroupName")
_BOUNDARY = "iam:PermissionsBoundary"
_POLICY_ARN = "iam:PolicyARN"
_boundary_rule = _text(_BOUNDARY, "PermissionsBoundary")
_policy_arn_rule = _text(_POLICY_ARN, "PolicyArn")


def _iam(
    name: str,
    resource: ResourceType,
    target: Callable[[Params, str, str], Target],
    keys: Sequence[str] = (),
    context: KeyRule = NO_KEYS,
) -> Operation:
    id_param = {
        ResourceType.USER: "UserName",
        ResourceType.ROLE: "RoleName",
        ResourceType.GROUP: "GroupName",
        ResourceType.POLICY: "PolicyArn",
        ResourceType.NONE: None,
    }[resource]
    if name == "CreatePolicy":
        id_param = "PolicyName"
    return _op("iam", name, resource, id_param, target, keys, context)


_U, _R, _G, _P = ResourceType.USER, ResourceType.ROLE, ResourceType.GROUP, ResourceType.POLICY

IAM = (
    # users
    _iam(
        "CreateUser",
        _U,
        _iam_new(_U, "UserName"),
        (*REQUEST_TAG_KEYS, _BOUNDARY),
        _rules(_request_tags(), _boundary_rule),
    ),
    _iam("GetUser", _U, _user),
    _iam("ListUsers", ResourceType.NONE, _no_resource),
    _iam("UpdateUser", _U, _user),
    _iam("DeleteUser", _U, _user),
    _iam("TagUser", _U, _user, REQUEST_TAG_KEYS, _request_tags()),
    _iam("UntagUser", _U, _user, ("aws:TagKeys",), _strings("aws:TagKeys", "TagKeys")),
    _iam("ListUserTags", _U, _user),
    _iam("PutUserPermissionsBoundary", _U, _user, (_BOUNDARY,), _boundary_rule),
    _iam("DeleteUserPermissionsBoundary", _U, _user),
    # access keys and login profiles
    _iam("CreateAccessKey", _U, _user),
    _iam("ListAccessKeys", _U, _user),
    _iam("UpdateAccessKey", _U, _user),
    _iam("DeleteAccessKey", _U, _user),
    _iam("CreateLoginProfile", _U, _user),
    _iam("GetLoginProfile", _U, _user),
    _iam("UpdateLoginProfile", _U, _user),
    _iam("DeleteLoginProfile", _U, _user),
    # roles
    _iam(
        "CreateRole",
        _R,
        _iam_new(_R, "RoleName"),
        (*REQUEST_TAG_KEYS, _BOUNDARY),
        _rules(_request_tags(), _boundary_rule),
    ),
    _iam("GetRole", _R, _role),
    _iam("ListRoles", ResourceType.NONE, _no_resource),
    _iam("UpdateRole", _R, _role),
    _iam("DeleteRole", _R, _role),
    _iam("UpdateAssumeRolePolicy", _R, _role),
    _iam("TagRole", _R, _role, REQUEST_TAG_KEYS, _request_tags()),
    _iam("UntagRole", _R, _role, ("aws:TagKeys",), _strings("aws:TagKeys", "TagKeys")),
    _iam("ListRoleTags", _R, _role),
    _iam("PutRolePermissionsBoundary", _R, _role, (_BOUNDARY,), _boundary_rule),
    _iam("DeleteRolePermissionsBoundary", _R, _role),
    # groups
    _iam("CreateGroup", _G, _iam_new(_G, "GroupName")),
    _iam("GetGroup", _G, _group),
    _iam("ListGroups", ResourceType.NONE, _no_resource),
    _iam("UpdateGroup", _G, _group),
    _iam("DeleteGroup", _G, _group),
    _iam("AddUserToGroup", _G, _group),
    _iam("RemoveUserFromGroup", _G, _group),
    _iam("ListGroupsForUser", _U, _user),
    # inline policies
    _iam("PutUserPolicy", _U, _user),
    _iam("GetUserPolicy", _U, _user),
    _iam("ListUserPolicies", _U, _user),
    _iam("DeleteUserPolicy", _U, _user),
    _iam("PutRolePolicy", _R, _role),
    _iam("GetRolePolicy", _R, _role),
    _iam("ListRolePolicies", _R, _role),
    _iam("DeleteRolePolicy", _R, _role),
    _iam("PutGroupPolicy", _G, _group),
    _iam("GetGroupPolicy", _G, _group),
    _iam("ListGroupPolicies", _G, _group),
    _iam("DeleteGroupPolicy", _G, _group),
    # managed policies and their versions
    _iam("CreatePolicy", _P, _iam_new(_P, "PolicyName"), REQUEST_TAG_KEYS, _request_tags()),
    _iam("GetPolicy", _P, _policy_arn),
    _iam("ListPolicies", ResourceType.NONE, _no_resource),
    _iam("DeletePolicy", _P, _policy_arn),
    _iam("CreatePolicyVersion", _P, _policy_arn),
    _iam("GetPolicyVersion", _P, _policy_arn),
    _iam("ListPolicyVersions", _P, _policy_arn),
    _iam("SetDefaultPolicyVersion", _P, _policy_arn),
    _iam("DeletePolicyVersion", _P, _policy_arn),
    _iam("TagPolicy", _P, _policy_arn, REQUEST_TAG_KEYS, _request_tags()),
    _iam("UntagPolicy", _P, _policy_arn, ("aws:TagKeys",), _strings("aws:TagKeys", "TagKeys")),
    _iam("ListPolicyTags", _P, _policy_arn),
    # attachments
    _iam("AttachUserPolicy", _U, _user, (_POLICY_ARN,), _policy_arn_rule),
    _iam("DetachUserPolicy", _U, _user, (_POLICY_ARN,), _policy_arn_rule),
    _iam("ListAttachedUserPolicies", _U, _user),
    _iam("AttachRolePolicy", _R, _role, (_POLICY_ARN,), _policy_arn_rule),
    _iam("DetachRolePolicy", _R, _role, (_POLICY_ARN,), _policy_arn_rule),
    _iam("ListAttachedRolePolicies", _R, _role),
    _iam("AttachGroupPolicy", _G, _group, (_POLICY_ARN,), _policy_arn_rule),
    _iam("DetachGroupPolicy", _G, _group, (_POLICY_ARN,), _policy_arn_rule),
    _iam("ListAttachedGroupPolicies", _G, _group),
)

STS = (
    # "No permissions are required to perform this operation": GetCallerIdentity has no entry and no checks.
    _op(
        "sts",
        "AssumeRole",
        ResourceType.ROLE,
        "RoleArn",
        _role_arn,
        (*REQUEST_TAG_KEYS, "sts:ExternalId", "sts:RoleSessionName", "sts:SourceIdentity", "sts:TransitiveTagKeys"),
        _rules(
            _request_tags(),
            _text("sts:ExternalId", "ExternalId"),
            _text("sts:RoleSessionName", "RoleSessionName"),
            _text("sts:SourceIdentity", "SourceIdentity"),
            _strings("sts:TransitiveTagKeys", "TransitiveTagKeys"),
        ),
    ),
    _op("sts", "GetSessionToken", ResourceType.NONE, None, _no_resource),
)

# Operations that need no authorization at all, even under an explicit Deny (STS API reference, GetCallerIdentity).
UNAUTHORIZED_OPERATIONS = frozenset({("sts", "GetCallerIdentity")})

OPERATIONS: Mapping[tuple[str, str], Operation] = {
    (op.service, op.name): op for op in (*SECRETS_MANAGER, *LAMBDA, *IAM, *STS)
}


class UnknownOperation(LookupError):
    """No authorization facts for this operation: the server must refuse it rather than run it unchecked."""


def facts(service: str, operation: str, params: Params, *, account: str, region: str) -> list[Check]:
    """Every check one request needs, the operation's own action first; [] for operations AWS never authorizes."""
    if (service, operation) in UNAUTHORIZED_OPERATIONS:
        return []
    op = OPERATIONS.get((service, operation))
    if op is None:
        raise UnknownOperation(f"{service}:{operation}")
    target = op.target(params, account, region)
    return [Check(op.action, target, op.context(params)), *op.dependents(params, target, account, region)]


# --- resource-side keys ------------------------------------------------------------------------------------------


def secret_resource_keys(
    arn: str,
    tags: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    rotation_lambda_arn: str | None = None,
    *,
    primary_region: str | None = None,
    secret_type: str | None = None,
) -> Context:
    """The keys an existing secret brings to every action on it (all but CreateSecret list them).

    secretsmanager:SecretId is the secret's full ARN; ResourceTag/KEY under both prefixes for each tag;
    resource/AllowRotationLambdaArn the configured rotation function; SecretPrimaryRegion only for a multi-Region
    secret; resource/Type only for a managed external secret.
    """
    pairs = tags.items() if isinstance(tags, Mapping) else tags
    keys: Context = {"secretsmanager:SecretId": arn}
    for key, value in pairs:
        keys[f"aws:ResourceTag/{key}"] = value
        keys[f"secretsmanager:ResourceTag/{key}"] = value
    if rotation_lambda_arn:
        keys["secretsmanager:resource/AllowRotationLambdaArn"] = rotation_lambda_arn
    if primary_region:
        keys["secretsmanager:SecretPrimaryRegion"] = primary_region
    if secret_type:
        keys["secretsmanager:resource/Type"] = secret_type
    return keys


def function_resource_keys(tags: Mapping[str, str]) -> Context:
    """A Lambda function's tags as aws:ResourceTag/KEY."""
    return {f"aws:ResourceTag/{key}": value for key, value in tags.items()}


# The actions whose reference row lists iam:PermissionsBoundary as the boundary the user or role already has.
ENTITY_BOUNDARY_ACTIONS = frozenset(
    f"iam:{name}"
    for name in (
        "AttachRolePolicy",
        "AttachUserPolicy",
        "DeleteRole",
        "DeleteRolePermissionsBoundary",
        "DeleteRolePolicy",
        "DeleteUserPermissionsBoundary",
        "DeleteUserPolicy",
        "DetachRolePolicy",
        "DetachUserPolicy",
        "GetRole",
        "PutRolePolicy",
        "PutUserPolicy",
        "UpdateAssumeRolePolicy",
        "UpdateRole",
    )
)


def iam_resource_keys(
    action: str, kind: ResourceType, tags: Mapping[str, str], permissions_boundary: str | None = None
) -> Context:
    """The keys an existing IAM user, role or policy brings to ``action``: its tags as aws:ResourceTag/KEY (and
    iam:ResourceTag/KEY for users and roles), and the entity's permissions boundary for the actions that list it."""
    if kind not in (ResourceType.USER, ResourceType.ROLE, ResourceType.POLICY):
        return {}  # groups have no tags, and an action without a resource has no resource keys
    keys: Context = {f"aws:ResourceTag/{key}": value for key, value in tags.items()}
    if kind in (ResourceType.USER, ResourceType.ROLE):
        keys.update({f"iam:ResourceTag/{key}": value for key, value in tags.items()})
        if permissions_boundary and action in ENTITY_BOUNDARY_ACTIONS:
            keys[_BOUNDARY] = permissions_boundary
    return keys


def with_resource(check: Check, resource_keys: Mapping[str, ContextValue]) -> dict[str, ContextValue]:
    """The full context for one check: its request-side keys plus the resource's (request keys win a clash)."""
    return {**resource_keys, **check.context}
