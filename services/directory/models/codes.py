"""Field types that accept only the directory's codes, with a message naming the valid ones."""

from __future__ import annotations

import uuid
from typing import Annotated

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator

from services.directory import vocabulary as v


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def _one_of(vocabulary: v.Labels, what: str):  # type: ignore[no-untyped-def]
    def check(code: str) -> str:
        if code not in vocabulary:
            raise ValueError(
                f"{what} inconnu·e « {code} » ; valeurs possibles : {', '.join(vocabulary)}"
            )
        return code

    return AfterValidator(check)


KindCode = Annotated[str, _one_of(v.OFFER_KINDS, "type d'offre")]
StageCode = Annotated[str, _one_of(v.STAGES, "stade")]
ThemeCode = Annotated[str, _one_of(v.THEMES, "thème")]
SchemeCode = Annotated[str, _one_of(v.SCHEMES, "dispositif")]
CircleCode = Annotated[str, _one_of(v.CIRCLES, "cercle")]
LegalFormCode = Annotated[str, _one_of(v.LEGAL_FORMS, "forme juridique")]
CostCode = Annotated[str, _one_of(v.COSTS, "coût")]
ModeCode = Annotated[str, _one_of(v.MODES_ACCUEIL, "mode d'accueil")]
CapacityCode = Annotated[str, _one_of(v.CAPACITIES, "capacité")]
ProjectTypeCode = Annotated[str, _one_of(v.PROJECT_TYPES, "type de projet")]
InfoCode = Annotated[str, _one_of(v.REQUIRED_INFORMATION, "information requise")]
RoleCode = Annotated[str, _one_of(v.ROLES, "rôle")]


def _email(value: str) -> str:
    # `test_environment` admits the reserved `.test` domain that demo and test accounts use.
    try:
        result = validate_email(value, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise ValueError(f"adresse électronique invalide : {exc}") from exc
    return result.normalized


Email = Annotated[str, AfterValidator(_email)]
