"""ListSecrets: the store filters, sorts and pages (core/listing.py states the rules)."""

from __future__ import annotations

from tumbler.core import listing
from tumbler.ops.context import Context, Params, Result
from tumbler.ops.secretsmanager import common
from tumbler.ops.secretsmanager.common import operation


@operation("ListSecrets", in_scan_process=True)
def list_secrets(ctx: Context, params: Params) -> Result:
    query = listing.list_query(
        ctx.region,
        common.filters_from(params.get("Filters")),
        sort_by=params.get("SortBy"),
        sort_order=params.get("SortOrder"),
        include_deleted=bool(params.get("IncludePlannedDeletion")),
        max_results=params.get("MaxResults"),
        next_token=params.get("NextToken"),
    )
    with ctx.store.reader() as reader:
        found = reader.list_page(listing.one_more(query))
    out: Result = {"SecretList": [common.describe(s, "SecretVersionsToStages") for s in found[: query.limit]]}
    token = listing.next_token(query, found)
    if token:
        out["NextToken"] = token
    return out
