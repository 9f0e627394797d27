use super::*;

fn p(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn round_trip_through_the_api_shape() {
    let f = WebhookForm::from_pairs(&p(&[
        ("name", "WMS"),
        ("url", "https://x.example/h"),
        ("method", "POST"),
        ("events", "order.paid"),
        ("events", "order.created"),
        ("cond_field", "order.status"),
        ("cond_op", "in"),
        ("cond_value", "new, processing"),
        ("cond_field", ""),
        ("cond_op", "eq"),
        ("cond_value", ""),
        ("cond_field", "order.custom.gift"),
        ("cond_op", "exists"),
        ("cond_value", "x"),
        ("delay_minutes", "5"),
        ("sched_on", "1"),
        ("sched_tz", "Europe/Warsaw"),
        ("win0_days", "mon"),
        ("win0_days", "tue"),
        ("win0_from", "08:00"),
        ("win0_to", "16:00"),
        ("win1_from", ""),
        ("win1_to", ""),
        ("format", "json"),
        ("template", ""),
        ("header_name", "X-Key"),
        ("header_value", "k"),
        ("header_name", ""),
        ("header_value", ""),
        ("expect_status", "200, 202"),
        ("ordered", "1"),
        ("products", "A1,\nB2"),
    ]));
    let v = f.to_input().unwrap();
    assert_eq!(
        v["conditions"],
        json!([{"field": "order.status", "op": "in", "value": ["new", "processing"]}, {"field": "order.custom.gift", "op": "exists"}])
    );
    assert_eq!(
        v["schedule"]["windows"],
        json!([{"days": ["mon", "tue"], "from": "08:00", "to": "16:00"}])
    );
    assert_eq!(v["headers"], json!({"X-Key": "k"}));
    assert_eq!(v["expect_status"], json!([200, 202]));
    assert_eq!(v["products"], json!(["A1", "B2"]));
    let input: shophook_core::webhook::WebhookInput = serde_json::from_value(v).unwrap();
    let (config, _, _) = input.into_new_config().unwrap();
    let back = WebhookForm::from_config(&config, "UTC");
    assert_eq!(back.conditions[0].value, "new, processing");
    assert_eq!(back.windows[0].days, ["mon", "tue"]);
}

#[test]
fn errors_land_next_to_their_field() {
    let mut f = WebhookForm::from_pairs(&p(&[
        ("cond_field", ""),
        ("cond_op", "eq"),
        ("cond_value", ""),
        ("cond_field", "order.x"),
        ("cond_op", "in"),
        ("cond_value", ""),
    ]));
    let errors = f.place_error(&FieldError::new(
        "conditions[0].value",
        "invalid_condition_value",
        "needs a list",
    ));
    assert!(errors.is_empty());
    assert_eq!(f.conditions[1].error, "needs a list");
    let errors = f.place_error(&FieldError::new("url", "invalid_url", "bad"));
    assert_eq!(errors.get("url").map(String::as_str), Some("bad"));
    assert!(
        WebhookForm::from_pairs(&p(&[("delay_minutes", "soon")]))
            .to_input()
            .is_err()
    );
}
