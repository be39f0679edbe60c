//! Discovery, the service list (the categories) and a service's definition.

use super::doc::{Doc, Node};
use super::render::service_name;
use super::{CHANGESET, O311Error, O311Result};
use crate::error::current_lang;
use crate::reports::Ctx;
use crate::reports::catalog::{self, Category, QuestionKind};

pub fn discovery(state: &Ctx) -> Doc {
    let base = state.objects.public_url();
    let lang = current_lang();
    Doc {
        root: "discovery",
        body: Node::Obj(vec![
            ("changeset", Node::str(CHANGESET)),
            (
                "contact",
                Node::str(lang.pick(
                    "Bộ phận công nghệ thông tin của phường",
                    "The ward's IT team",
                )),
            ),
            (
                "key_service",
                Node::str(lang.pick(
                    "Quản trị viên phường cấp api_key cho từng ứng dụng (POST /v1/admin/open311/clients)",
                    "The ward's administrators issue an api_key per client app (POST /v1/admin/open311/clients)",
                )),
            ),
            (
                "endpoints",
                Node::List(
                    "endpoint",
                    vec![Node::Obj(vec![
                        (
                            "specification",
                            Node::str("http://wiki.open311.org/GeoReport_v2"),
                        ),
                        ("url", Node::str(format!("{base}/open311/v2"))),
                        ("changeset", Node::str(CHANGESET)),
                        ("type", Node::str("production")),
                        (
                            "formats",
                            Node::List(
                                "format",
                                vec![Node::str("text/xml"), Node::str("application/json")],
                            ),
                        ),
                    ])],
                ),
            ),
        ]),
    }
}

pub async fn services(state: &Ctx) -> O311Result<Doc> {
    let list = catalog::list(&state.db, false).await?;
    Ok(Doc {
        root: "services",
        body: Node::List(
            "service",
            list.iter()
                .map(|c| {
                    Node::Obj(vec![
                        ("service_code", Node::str(c.code.clone())),
                        ("service_name", Node::str(service_name(c))),
                        (
                            "description",
                            Node::str(format!("{} / {}", c.name_vi, c.name_en)),
                        ),
                        ("metadata", Node::Bool(!c.questions.is_empty())),
                        ("type", Node::str("realtime")),
                        ("keywords", Node::str(c.group_code.clone())),
                        ("group", Node::str(c.group_code.clone())),
                    ])
                })
                .collect(),
        ),
    })
}

fn unknown_service() -> O311Error {
    O311Error::new(
        404,
        current_lang().pick(
            "service_code: không có dịch vụ này",
            "service_code: no such service",
        ),
    )
}

pub(super) async fn active_category(state: &Ctx, code: &str) -> O311Result<Category> {
    if code.is_empty() || code.len() > 40 {
        return Err(unknown_service());
    }
    state
        .categories
        .by_code(&state.db, code)
        .await?
        .filter(|c| c.active)
        .ok_or_else(unknown_service)
}

fn datatype(kind: QuestionKind) -> &'static str {
    match kind {
        QuestionKind::String => "string",
        QuestionKind::Number => "number",
        QuestionKind::Datetime => "datetime",
        QuestionKind::Text => "text",
        QuestionKind::SingleChoice => "singlevaluelist",
        QuestionKind::MultiChoice => "multivaluelist",
    }
}

pub async fn service_definition(state: &Ctx, code: &str) -> O311Result<Doc> {
    let c = active_category(state, code).await?;
    let lang = current_lang();
    let attributes = c
        .questions
        .iter()
        .enumerate()
        .map(|(i, q)| {
            Node::Obj(vec![
                ("variable", Node::Bool(true)),
                ("code", Node::str(q.key.clone())),
                ("datatype", Node::str(datatype(q.kind))),
                ("required", Node::Bool(q.required)),
                (
                    "datatype_description",
                    Node::str(match q.kind {
                        QuestionKind::Datetime => "RFC 3339, e.g. 2026-05-01T08:00:00+07:00",
                        QuestionKind::MultiChoice => "attribute[code][]=key, once per value",
                        _ => "",
                    }),
                ),
                ("order", Node::Int(i as i64 + 1)),
                (
                    "description",
                    Node::str(lang.pick(&q.label_vi, &q.label_en)),
                ),
                (
                    "values",
                    Node::List(
                        "value",
                        q.choices
                            .iter()
                            .map(|v| Node::Obj(vec![("key", Node::str(v)), ("name", Node::str(v))]))
                            .collect(),
                    ),
                ),
            ])
        })
        .collect();
    Ok(Doc {
        root: "service_definition",
        body: Node::Obj(vec![
            ("service_code", Node::str(c.code.clone())),
            ("attributes", Node::List("attribute", attributes)),
        ]),
    })
}
