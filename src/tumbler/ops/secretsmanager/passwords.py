"""GetRandomPassword."""

from __future__ import annotations

from tumbler.core.passwords import PasswordSpec, generate
from tumbler.ops.context import Context, Params, Result
from tumbler.ops.secretsmanager.common import operation

FLAGS = {
    "ExcludeNumbers": "exclude_numbers",
    "ExcludePunctuation": "exclude_punctuation",
    "ExcludeUppercase": "exclude_uppercase",
    "ExcludeLowercase": "exclude_lowercase",
    "IncludeSpace": "include_space",
    "RequireEachIncludedType": "require_each_included_type",
}


def spec_from(params: Params) -> PasswordSpec:
    fields: dict[str, object] = {attr: bool(params[name]) for name, attr in FLAGS.items() if name in params}
    if "PasswordLength" in params:
        fields["length"] = params["PasswordLength"]
    if "ExcludeCharacters" in params:
        fields["exclude_characters"] = params["ExcludeCharacters"]
    return PasswordSpec(**fields)  # type: ignore[arg-type]


@operation("GetRandomPassword", on_event_loop=True)
def get_random_password(ctx: Context, params: Params) -> Result:
    return {"RandomPassword": generate(spec_from(params))}
