"""The condition tree as protobuf (segment.proto's Node) and back.

A comparison's value travels as JSON text, so one message carries any literal; a sealed literal
(subject set, by segment) stays Sealed in the tree until Literals.opened() decrypts it. Durations
and times travel as their ISO 8601 text and are checked like the JSON form's.
"""

from __future__ import annotations

from typing import Any

import orjson

from cdp.api.segment.v1 import segment_pb2 as pb
from cdp.platform.clock import format_iso
from cdp.segment import language as lang
from cdp.segment.leaves import AccountTrait, EventCondition, InvalidAudience, Sealed, TraitCondition


def _value(text: str, where: str) -> Any:
    try:
        return orjson.loads(text) if text else None
    except orjson.JSONDecodeError:
        raise InvalidAudience(f"{where}.value: must be JSON") from None


def _comparison_json(c: pb.TraitCondition, where: str, field: str) -> dict:
    out: dict[str, Any] = {field: c.trait, "op": c.op}
    if c.op not in lang.VALUELESS:
        out["value"] = _value(c.value, where)
    return out


def _comparison(c: pb.TraitCondition, where: str, field: str) -> TraitCondition:
    """A comparison; a sealed one keeps its token (the rules were checked before it was sealed)."""
    if c.subject:
        token = _value(c.value, where)
        return TraitCondition(c.trait, c.op, Sealed(c.subject, token if isinstance(token, str) else ""))
    return lang.comparison(_comparison_json(c, where, field), where, field)


def _event_json(e: pb.EventPredicate, where: str) -> dict:
    out: dict[str, Any] = {"event": e.event}
    if e.HasField("count"):
        value: Any = [e.count.value, e.count.upper] if e.count.op == "between" else e.count.value
        out["count"] = {"op": e.count.op, "value": value}
    if e.HasField("aggregate"):
        a = e.aggregate
        out["aggregate"] = {
            "fn": a.fn,
            "property": a.property,
            "op": a.op,
            "value": _value(a.value, f"{where}.aggregate"),
        }
    if e.HasField("window"):
        w = e.window
        if w.last:
            out["window"] = {"last": w.last}
        elif w.far or w.near:
            out["window"] = {"between": [w.far, w.near]}
        else:
            start = getattr(w, "from")  # a Python keyword
            out["window"] = {**({"from": start} if start else {}), **({"to": w.to} if w.to else {})}
    return out


def _event(e: pb.EventPredicate, where: str) -> lang.Event:
    parsed = lang.parse(_event_json(e, where), where)
    assert isinstance(parsed, lang.Event)
    where_ = tuple(_comparison(w, f"{where}.where[{i}]", "property") for i, w in enumerate(e.where))
    return lang.Event(parsed.event, where_, parsed.count, parsed.aggregate, parsed.window)


def from_proto(node: pb.Node, where: str = "definition") -> lang.Node:
    kind = node.WhichOneof("kind")
    if kind in ("all", "any"):
        items = getattr(node, kind).nodes
        if not items:
            raise InvalidAudience(f"{where}.{kind}: must be a non-empty list of conditions")
        group = lang.All if kind == "all" else lang.Any_
        return group(tuple(from_proto(x, f"{where}.{kind}[{i}]") for i, x in enumerate(items)))
    if kind == "not":
        return lang.Not(from_proto(getattr(node, "not"), f"{where}.not"))
    if kind == "trait":
        return _comparison(node.trait, where, "trait")
    if kind == "event":
        return _event(node.event, where)
    if kind == "funnel":
        f = node.funnel
        steps = tuple(_event(s, f"{where}.funnel[{i}]") for i, s in enumerate(f.steps))
        checked = lang.parse(
            {"funnel": [lang.to_json(s) for s in steps], "within": f.within, "negate_last": f.negate_last}, where
        )
        assert isinstance(checked, lang.Funnel)
        return lang.Funnel(steps, checked.within, checked.negate_last)
    if kind == "audience":
        return lang.parse({"audience": node.audience}, where)
    if kind == "account_trait":
        c = _comparison(node.account_trait, where, "account_trait")
        return AccountTrait(c.trait, c.op, c.value)
    if kind == "account":
        q = node.account
        if q.quantifier not in lang.QUANTIFIERS:
            raise InvalidAudience(f"{where}.account.quantifier: must be one of {', '.join(lang.QUANTIFIERS)}")
        if not q.HasField("member"):
            raise InvalidAudience(f"{where}.account.{q.quantifier}: is required (a person condition)")
        return lang.Quantified(q.quantifier, from_proto(q.member, f"{where}.account.{q.quantifier}"))
    raise InvalidAudience(
        f"{where}: must have one of all, any, not, trait, event, funnel, audience, account_trait, account"
    )


def _comparison_proto(c: TraitCondition) -> pb.TraitCondition:
    if isinstance(c.value, Sealed):
        return pb.TraitCondition(
            trait=c.trait, op=c.op, value=orjson.dumps(c.value.token).decode(), subject=c.value.subject
        )
    value = "" if c.op in lang.VALUELESS else orjson.dumps(c.value).decode()
    return pb.TraitCondition(trait=c.trait, op=c.op, value=value)


def _event_proto(e: lang.Event) -> pb.EventPredicate:
    out = pb.EventPredicate(event=e.event, where=[_comparison_proto(w) for w in e.where])
    if e.count is not None:
        out.count.CopyFrom(pb.Count(op=e.count.op, value=e.count.value, upper=e.count.upper))
    if e.aggregate is not None:
        a = e.aggregate
        out.aggregate.CopyFrom(
            pb.Aggregate(fn=a.fn, property=a.property, op=a.op, value=orjson.dumps(a.value).decode())
        )
    if e.window is not None:
        window = lang.to_json(e)["window"]
        w = pb.Window()
        if "last" in window:
            w.last = window["last"]
        elif "between" in window:
            w.far, w.near = window["between"]
        else:
            setattr(w, "from", format_iso(e.window.start) if e.window.start else "")
            w.to = format_iso(e.window.end) if e.window.end else ""
        out.window.CopyFrom(w)
    return out


def to_proto(node: lang.Node) -> pb.Node:
    if isinstance(node, lang.All | lang.Any_):
        nodes = pb.Nodes(nodes=[to_proto(x) for x in node.items])
        return pb.Node(all=nodes) if isinstance(node, lang.All) else pb.Node(any=nodes)
    if isinstance(node, lang.Not):
        out = pb.Node()
        getattr(out, "not").CopyFrom(to_proto(node.item))
        return out
    if isinstance(node, AccountTrait):
        return pb.Node(account_trait=_comparison_proto(node))
    if isinstance(node, TraitCondition):
        return pb.Node(trait=_comparison_proto(node))
    if isinstance(node, lang.Quantified):
        return pb.Node(account=pb.AccountQuantifier(quantifier=node.quantifier, member=to_proto(node.member)))
    if isinstance(node, lang.Event):
        return pb.Node(event=_event_proto(node))
    if isinstance(node, lang.Funnel):
        within = lang.to_json(node)["within"]
        return pb.Node(
            funnel=pb.Funnel(steps=[_event_proto(s) for s in node.steps], within=within, negate_last=node.negate_last)
        )
    if isinstance(node, EventCondition):
        # The first form's event count, in the language: at least min_count times, all time.
        return pb.Node(event=pb.EventPredicate(event=node.event, count=pb.Count(op="gte", value=node.min_count)))
    assert isinstance(node, lang.InAudience)
    return pb.Node(audience=node.audience_id)


def legacy_conditions(conditions) -> list:
    """The first form's conditions (a conjunction), as tree leaves."""
    out: list = []
    for index, c in enumerate(conditions):
        if c.HasField("trait"):
            value = _value(c.trait.value, f"conditions[{index}].trait")
            if c.trait.subject:
                value = Sealed(c.trait.subject, value if isinstance(value, str) else "")  # "": not a token
            out.append(TraitCondition(c.trait.trait, c.trait.op, value))
        elif c.HasField("event"):
            out.append(EventCondition(c.event.event, c.event.min_count))
        else:
            raise InvalidAudience(f"conditions[{index}]: must be a trait or an event condition")
    return out
