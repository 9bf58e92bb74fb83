"""The AWS managed policies rotation users attach, with AWS's documents, so ``arn:aws:iam::aws:policy/...`` exists.

Which ones: SecretsManagerReadWrite, and IAMFullAccess that its description and the Secrets Manager user guide ("AWS
managed policy for Secrets Manager") say to combine it with to configure rotation; AWSLambdaBasicExecutionRole that
the console and the aws-samples rotation templates attach to a rotation function's execution role, and
AWSLambdaVPCAccessExecutionRole for a function that reaches its database inside a VPC; AdministratorAccess, the
usual starting point. Documents, versions and dates are the AWS Managed Policy Reference's (docs.aws.amazon.com/
aws-managed-policy/latest/reference/NAME.html), cross-checked against what IAM's GetPolicyVersion returns. They are
data: copied exactly, statement order and all. Where the reference gives a time to the minute only, seconds are 00.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

AWS_POLICY_PREFIX = "arn:aws:iam::aws:policy"


@dataclass(frozen=True)
class ManagedPolicy:
    name: str
    path: str
    description: str
    default_version_id: str
    create_date: str  # ISO 8601, UTC: when AWS created the policy
    update_date: str  # when its default version was made
    document_text: str  # the default version's document, as JSON

    @property
    def arn(self) -> str:
        return f"{AWS_POLICY_PREFIX}{self.path}{self.name}"

    @property
    def document(self) -> dict[str, Any]:
        """A fresh copy of the document, so no caller can change the shared one."""
        document: dict[str, Any] = json.loads(self.document_text)
        return document


def _json(document: dict[str, Any]) -> str:
    return json.dumps(document)


_SECRETS_MANAGER_READ_WRITE = ManagedPolicy(
    name="SecretsManagerReadWrite",
    path="/",
    description=(
        "Provides read/write access to AWS Secrets Manager via the AWS Management Console. Note: this excludes "
        "IAM actions, so combine with IAMFullAccess if rotation configuration is required."
    ),
    # The reference page showed v5 (2024-02-22); IAM's default version is v6 since 2026-08-25, with the same document.
    default_version_id="v6",
    create_date="2018-04-04T18:05:00Z",
    update_date="2026-08-25T23:37:10Z",
    document_text=_json(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "BasePermissions",
                    "Effect": "Allow",
                    "Action": [
                        "secretsmanager:*",
                        "cloudformation:CreateChangeSet",
                        "cloudformation:DescribeChangeSet",
                        "cloudformation:DescribeStackResource",
                        "cloudformation:DescribeStacks",
                        "cloudformation:ExecuteChangeSet",
                        "docdb-elastic:GetCluster",
                        "docdb-elastic:ListClusters",
                        "ec2:DescribeSecurityGroups",
                        "ec2:DescribeSubnets",
                        "ec2:DescribeVpcs",
                        "kms:DescribeKey",
                        "kms:ListAliases",
                        "kms:ListKeys",
                        "lambda:ListFunctions",
                        "rds:DescribeDBClusters",
                        "rds:DescribeDBInstances",
                        "redshift:DescribeClusters",
                        "redshift-serverless:ListWorkgroups",
                        "redshift-serverless:GetNamespace",
                        "tag:GetResources",
                    ],
                    "Resource": "*",
                },
                {
                    "Sid": "LambdaPermissions",
                    "Effect": "Allow",
                    "Action": [
                        "lambda:AddPermission",
                        "lambda:CreateFunction",
                        "lambda:GetFunction",
                        "lambda:InvokeFunction",
                        "lambda:UpdateFunctionConfiguration",
                    ],
                    "Resource": "arn:aws:lambda:*:*:function:SecretsManager*",
                },
                {
                    "Sid": "SARPermissions",
                    "Effect": "Allow",
                    "Action": ["serverlessrepo:CreateCloudFormationChangeSet", "serverlessrepo:GetApplication"],
                    "Resource": "arn:aws:serverlessrepo:*:*:applications/SecretsManager*",
                },
                {
                    "Sid": "S3Permissions",
                    "Effect": "Allow",
                    "Action": ["s3:GetObject"],
                    "Resource": [
                        "arn:aws:s3:::awsserverlessrepo-changesets*",
                        "arn:aws:s3:::secrets-manager-rotation-apps-*/*",
                    ],
                },
                {
                    "Sid": "CloudFormationTagOnCreate",
                    "Effect": "Allow",
                    "Action": ["cloudformation:TagResource", "cloudformation:UntagResource"],
                    "Resource": "*",
                    "Condition": {
                        "StringEquals": {"cloudformation:CreateAction": ["CreateChangeSet", "ExecuteChangeSet"]}
                    },
                },
            ],
        }
    ),
)

_IAM_FULL_ACCESS = ManagedPolicy(
    name="IAMFullAccess",
    path="/",
    description="Provides full access to IAM via the AWS Management Console.",
    default_version_id="v2",
    create_date="2015-02-06T18:40:00Z",
    update_date="2019-06-21T19:40:00Z",
    document_text=_json(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": [
                        "iam:*",
                        "organizations:DescribeAccount",
                        "organizations:DescribeOrganization",
                        "organizations:DescribeOrganizationalUnit",
                        "organizations:DescribePolicy",
                        "organizations:ListChildren",
                        "organizations:ListParents",
                        "organizations:ListPoliciesForTarget",
                        "organizations:ListRoots",
                        "organizations:ListPolicies",
                        "organizations:ListTargetsForPolicy",
                    ],
                    "Resource": "*",
                }
            ],
        }
    ),
)

_ADMINISTRATOR_ACCESS = ManagedPolicy(
    name="AdministratorAccess",
    path="/",
    description="Provides full access to AWS services and resources.",
    default_version_id="v1",
    create_date="2015-02-06T18:39:46Z",
    update_date="2015-02-06T18:39:46Z",
    document_text=_json({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
)

_LAMBDA_BASIC_EXECUTION_ROLE = ManagedPolicy(
    name="AWSLambdaBasicExecutionRole",
    path="/service-role/",
    description="Provides write permissions to CloudWatch Logs.",
    default_version_id="v1",
    create_date="2015-04-09T15:03:43Z",
    update_date="2015-04-09T15:03:43Z",
    document_text=_json(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": "*",
                }
            ],
        }
    ),
)

_LAMBDA_VPC_ACCESS_EXECUTION_ROLE = ManagedPolicy(
    name="AWSLambdaVPCAccessExecutionRole",
    path="/service-role/",
    description=(
        "Provides minimum permissions for a Lambda function to execute while accessing a resource within a VPC - "
        "create, describe, delete network interfaces and write permissions to CloudWatch Logs."
    ),
    default_version_id="v3",
    create_date="2016-02-11T23:15:00Z",
    update_date="2024-01-05T22:38:26Z",
    document_text=_json(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AWSLambdaVPCAccessExecutionPermissions",
                    "Effect": "Allow",
                    "Action": [
                        "logs:CreateLogGroup",
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                        "ec2:CreateNetworkInterface",
                        "ec2:DescribeNetworkInterfaces",
                        "ec2:DescribeSubnets",
                        "ec2:DeleteNetworkInterface",
                        "ec2:AssignPrivateIpAddresses",
                        "ec2:UnassignPrivateIpAddresses",
                    ],
                    "Resource": "*",
                }
            ],
        }
    ),
)

_ALL = (
    _SECRETS_MANAGER_READ_WRITE,
    _IAM_FULL_ACCESS,
    _ADMINISTRATOR_ACCESS,
    _LAMBDA_BASIC_EXECUTION_ROLE,
    _LAMBDA_VPC_ACCESS_EXECUTION_ROLE,
)


def managed_policies() -> dict[str, ManagedPolicy]:
    """Every AWS managed policy Tumbler has, by ARN."""
    return {policy.arn: policy for policy in _ALL}
