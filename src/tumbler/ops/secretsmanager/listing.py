"""ListSecrets."""

from __future__ import annotations

from tumbler.core import listing
from tumbler.ops.context import Context, Params, Result
from tumbler.ops.secretsmanager import common
from tumbler.ops.secretsmanager.common import operation


@operation("ListSecrets")
def list_secrets(ctx: Context, params: Params) -> Result:
    filters = common.filters_from(params.get("Filters"))
    include_deleted = bool(params.get("IncludePlannedDeletion"))
    with ctx.store.reader() as reader:
        found = [
            s
            for s in reader.list_secrets(ctx.region)
            if (include_deleted or not s.is_deleted) and listing.matches(s, filters)
        ]
    ordered = listing.sort_secrets(found, params.get("SortBy"), params.get("SortOrder"))
    page, token = listing.page(ordered, params.get("MaxResults"), params.get("NextToken"))
    out: Result = {"SecretList": [common.describe(s, "SecretVersionsToStages") for s in page]}
    if token:
        out["NextToken"] = token
    return out
