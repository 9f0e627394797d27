//! Each compatibility profile read by a receiver written only from its platform's
//! doc. The field lists come from the docs themselves (`docs/reference/`, parsed
//! here), and a real PHP receiver reads every listed field the way the doc's own
//! examples do — `$_POST['order_id']` (Ekademia), `$_POST['items'][0]['sum']` and
//! the doc's md5 line (JustClick), `$data['data']['ord_novaposhta']['EN']` after
//! `json_decode(…, true)` (SalesDrive), `$data['checkout']['items'][0]['product']['name']`
//! for Shoppegram's `{{ checkout.items[].product.name }}`, `$_GET['id_order']`
//! (Sellasist). The golden fixture's order goes through the real server — created,
//! paid, shipped, cancelled — and every field must be there, with the right value
//! or empty where the shop does not know it.

use std::collections::HashMap;
use std::time::Duration;

use crate::fixture::Fixture;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::php::PhpReceiver;
use crate::support::{TestApp, WAIT};

/// A documented field: how the doc writes it, and its keys (digits index lists).
#[derive(Debug, Clone)]
struct Field {
    name: String,
    keys: Vec<String>,
}

impl Field {
    /// `data[contacts][0][fName]` → data, contacts, 0, fName.
    fn brackets(name: &str) -> Field {
        let keys = name
            .split(['[', ']'])
            .filter(|k| !k.is_empty())
            .map(str::to_string)
            .collect();
        Field {
            name: name.to_string(),
            keys,
        }
    }

    /// The PHP expression that reads it from `$source`, as a receiver writes it.
    fn php(&self, source: &str) -> String {
        self.keys.iter().fold(source.to_string(), |e, k| {
            if k.chars().all(|c| c.is_ascii_digit()) {
                format!("{e}[{k}]")
            } else {
                format!("{e}['{k}']")
            }
        })
    }
}

fn doc(file: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../../docs/reference/{file}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap_or_else(|e| panic!("docs/reference/{file}: {e}"))
}

/// Ekademia: the table after "Nazwa zmiennej Opis zmiennej Format zmiennej".
fn ekademia_fields() -> Vec<Field> {
    let text = doc("ekademia-order-webhook.pl.txt");
    let table = text
        .split("Nazwa zmiennej Opis zmiennej Format zmiennej")
        .nth(1)
        .expect("Ekademia's variable table");
    table
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(Field::brackets)
        .collect()
}

/// JustClick: the PHP arrays of its two notifications (made/paid, cancelled),
/// with nested arrays as brackets (`utm[medium]`, `items[1][sum]`).
fn justclick_notifications() -> Vec<Vec<Field>> {
    let text = doc("justclick-invoice-notifications.en.txt");
    let mut notifications = Vec::new();
    // (key, next list index) per open array; the outermost is the notification.
    let mut open: Vec<(Option<String>, usize)> = Vec::new();
    let mut fields = Vec::new();
    for line in text.lines().map(str::trim) {
        let key = line
            .strip_prefix('\'')
            .and_then(|l| l.split_once('\''))
            .filter(|(_, rest)| rest.trim_start().starts_with("=>"))
            .map(|(k, rest)| (k.to_string(), rest.contains("array")));
        let path = |open: &[(Option<String>, usize)], leaf: &str| {
            let inner: String = open
                .iter()
                .skip(1)
                .filter_map(|(k, _)| k.clone())
                .chain(std::iter::once(leaf.to_string()))
                .enumerate()
                .map(|(i, k)| if i == 0 { k } else { format!("[{k}]") })
                .collect();
            inner
        };
        match key {
            Some((k, true)) => open.push((Some(k), 0)),
            Some((k, false)) if !open.is_empty() => fields.push(Field::brackets(&path(&open, &k))),
            _ if line.starts_with("array(") => {
                // A list element: its index in the enclosing array.
                let index = open.last_mut().map(|(_, n)| {
                    *n += 1;
                    *n - 1
                });
                open.push((index.filter(|_| open.len() > 1).map(|i| i.to_string()), 0));
            }
            _ if line.starts_with(')') && !open.is_empty() => {
                open.pop();
                if open.is_empty() {
                    notifications.push(std::mem::take(&mut fields));
                }
            }
            _ => {}
        }
    }
    notifications
}

/// Shoppegram: every `{{ checkout… }}` parameter; `items[]` read at the first item.
fn shoppegram_fields() -> Vec<Field> {
    let text = doc("shoppegram-webhooks.ms.txt");
    text.split("{{ ")
        .skip(1)
        .filter_map(|p| p.split_once(" }}").map(|(f, _)| f.trim()))
        .filter(|f| f.starts_with("checkout"))
        .map(|f| Field {
            name: f.to_string(),
            keys: f
                .replace("[]", ".0")
                .split('.')
                .map(str::to_string)
                .collect(),
        })
        .collect()
}

/// SalesDrive: every `info[…]`, `data[…]`, `meta[…]` line.
fn salesdrive_fields() -> Vec<Field> {
    doc("salesdrive-webhooks.uk.txt")
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|t| ["info[", "data[", "meta["].iter().any(|p| t.starts_with(p)))
        .map(Field::brackets)
        .collect()
}

/// Sellasist: the URL variables `{id_order}`, `{id_job}`.
fn sellasist_variables() -> Vec<Field> {
    doc("sellasist-automation-call-url.pl.txt")
        .lines()
        .filter_map(|l| l.strip_prefix('{')?.split_once("} - "))
        .map(|(v, _)| Field {
            name: format!("{{{v}}}"),
            keys: vec![v.to_string()],
        })
        .collect()
}

const ROUTER: &str = r#"<?php
error_reporting(0);
$route = explode('/', trim(parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH), '/'))[0];
$data = json_decode(file_get_contents('php://input'), true);
$setts = ['user_rps_key' => getenv('JC_KEY')];
$got = [];
$extra = ['method' => $_SERVER['REQUEST_METHOD'], 'body' => file_get_contents('php://input')];
require __DIR__ . "/read_$route.php";
file_put_contents(getenv('RECORD_DIR') . '/' . hrtime(true) . '.json', json_encode(
    ['route' => $route, 'webhook_id' => $_SERVER['HTTP_WEBHOOK_ID'] ?? '', 'got' => $got, 'extra' => $extra]));
echo "OK";
"#;

/// The reader of one platform: one line per documented field, then `extra`.
fn reader(source: &str, fields: &[Field], extra: &str) -> String {
    let mut php = String::from("<?php\n");
    for f in fields {
        php.push_str(&format!(
            "$got['{}'] = {} ?? null;\n",
            f.name,
            f.php(source)
        ));
    }
    php.push_str(extra);
    php
}

/// A delivery as the PHP receiver read it, with the step and event it came from.
struct Read {
    step: String,
    event_type: String,
    got: Value,
    extra: Value,
    webhook_id: String,
}

/// Runs the fixture's snapshots through a server whose account has the time zone
/// the golden fixture gives `profile`, with one webhook of it pointing at `php`.
async fn deliveries(php: &PhpReceiver, fixture: &Fixture, profile: &str) -> Vec<Read> {
    let (account, hook) = fixture
        .accounts
        .iter()
        .find_map(|a| {
            a.webhooks
                .iter()
                .find(|h| h.name == profile)
                .map(|h| (a, h))
        })
        .expect("the fixture has the profile");
    let app = TestApp::spawn().await;
    let (s, v) = app
        .admin(
            Method::POST,
            "/v1/accounts",
            Some(json!({"id": "acme", "name": "Acme", "timezone": account.timezone})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let mut config = hook.config("");
    let query = config["url"]
        .as_str()
        .unwrap()
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    config["url"] = json!(php.url(&format!("/{profile}/in{query}")));
    app.webhook("acme", config).await;
    let before = php.records().len();
    let mut step_of = HashMap::new();
    let mut expected = 0;
    for r in &fixture.resources {
        for (step, snapshot) in r.snapshots() {
            let path = format!("/v1/accounts/acme/{}s/{}", r.kind, r.id);
            let (s, v) = app.admin(Method::PUT, &path, Some(snapshot)).await;
            assert_eq!(s, StatusCode::OK, "{v}");
            for e in v["events"].as_array().unwrap() {
                step_of.insert(e["id"].as_str().unwrap().to_string(), step.clone());
            }
            expected += hook.cases().iter().filter(|c| c.step == step).count();
            let deadline = tokio::time::Instant::now() + WAIT;
            while php.records().len() < before + expected {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "{profile}: PHP got {} of {expected} requests",
                    php.records().len() - before
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    let mut out = Vec::new();
    for rec in php.records().into_iter().skip(before) {
        let id = rec["webhook_id"].as_str().unwrap().to_string();
        let d = app.delivery("acme", &id).await;
        assert_eq!(d["status"], "succeeded", "{d}");
        out.push(Read {
            step: step_of[d["event_id"].as_str().unwrap()].clone(),
            event_type: d["event_type"].as_str().unwrap().to_string(),
            got: rec["got"].clone(),
            extra: rec["extra"].clone(),
            webhook_id: id,
        });
    }
    assert_eq!(
        out.len(),
        expected,
        "{profile}: one request per expected delivery"
    );
    app.stop().await;
    out
}

/// Every documented field is there; those in `values` have that value and every
/// other one is empty (lists and objects only need to be there).
fn check(
    what: &str,
    fields: &[Field],
    got: &Value,
    values: &[(&str, Value)],
    failures: &mut Vec<String>,
) {
    for (name, _) in values {
        assert!(
            fields.iter().any(|f| f.name == *name),
            "{what}: `{name}` is not a field the doc lists"
        );
    }
    for f in fields {
        let v = &got[&f.name];
        let want = values.iter().find(|(n, _)| *n == f.name).map(|(_, v)| v);
        match (v, want) {
            (Value::Null, _) => failures.push(format!("{what}: `{}` is missing", f.name)),
            (got, Some(want)) if got != want => failures.push(format!(
                "{what}: `{}` is {got}, the shop's value is {want}",
                f.name
            )),
            (Value::Array(_) | Value::Object(_), None) => {}
            (got, None) if got != "" => failures.push(format!(
                "{what}: `{}` is {got}; the shop does not know it, so it is sent empty",
                f.name
            )),
            _ => {}
        }
    }
}

fn strings(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, Value)> {
    pairs.iter().map(|(k, v)| (*k, json!(v))).collect()
}

const COMMENT: &str = "Proszę dzwonić przed 17:00 — 1 + 1 & klatka B=2";

#[tokio::test]
async fn every_documented_field_reaches_a_receiver_written_from_the_doc() {
    let ekademia = ekademia_fields();
    let justclick = justclick_notifications();
    let shoppegram = shoppegram_fields();
    let salesdrive = salesdrive_fields();
    let sellasist = sellasist_variables();
    // The parsers found what the docs list.
    assert_eq!(ekademia.len(), 48, "{ekademia:?}");
    assert_eq!(justclick.len(), 2);
    assert!(
        justclick[0].len() >= 30 && justclick[1].len() >= 25,
        "{justclick:?}"
    );
    assert!(shoppegram.len() >= 30, "{shoppegram:?}");
    assert!(salesdrive.len() >= 140, "{}", salesdrive.len());
    assert_eq!(sellasist.len(), 2);

    let mut jc_all = justclick[0].clone();
    jc_all.extend(
        justclick[1]
            .iter()
            .filter(|f| !justclick[0].iter().any(|g| g.name == f.name))
            .cloned(),
    );
    let files = vec![
        (
            "read_ekademia.php".to_string(),
            reader("$_POST", &ekademia, ""),
        ),
        (
            "read_justclick.php".to_string(),
            reader(
                "$_POST",
                &jc_all,
                // The doc's own check, word for word.
                "$hash = md5($_REQUEST['id'].$_REQUEST['email'].$_REQUEST['paid'].$setts['user_rps_key']);\n\
                 $extra['hash_ok'] = isset($_POST['hash']) && $_POST['hash'] === $hash;\n\
                 $extra['has_paid'] = array_key_exists('paid', $_POST);\n",
            ),
        ),
        (
            "read_shoppegram.php".to_string(),
            reader(
                "$data",
                &shoppegram,
                "$extra['item1'] = $data['checkout']['items'][1]['name'] ?? null;\n",
            ),
        ),
        (
            "read_salesdrive.php".to_string(),
            reader(
                "$data",
                &salesdrive,
                "$extra['statuses'] = array_column($data['meta']['fields']['statusId']['options'] ?? [], 'value');\n\
                 $extra['gift_wrap'] = $data['data']['gift_wrap'] ?? null;\n",
            ),
        ),
        (
            "read_sellasist.php".to_string(),
            reader("$_GET", &sellasist, ""),
        ),
    ];
    let Some(php) = PhpReceiver::start(ROUTER, &files, &[("JC_KEY", crate::fixture::SECRET)])
    else {
        return;
    };
    let fixture = Fixture::load();
    let mut failures = Vec::new();

    // Ekademia: both items, paid=0 then paid=1.
    for r in deliveries(&php, &fixture, "ekademia").await {
        let what = format!("ekademia {} item {}", r.step, r.got["product_id"]);
        let paid = if r.step == "created" { "0" } else { "1" };
        let mut values = strings(&[
            ("order_id", "5001"),
            ("product_wwwroot", "https://sklep.example"),
            ("creator_id", "5"),
            ("coach_id", "9"),
            ("session_id", "sess-42"),
            ("paid", paid),
            ("order_date", "1796112000"),
            ("client_id", "77"),
            ("email", "zofia+zamowienia@example.pl"),
            ("phone", "+48600100200"),
            ("first_name", "Zofia"),
            ("last_name", "Łęcka-Wiśniewska"),
            ("street", "ul. Żółwia"),
            ("street_hn", "5"),
            ("street_an", "12"),
            ("post_code", "00-001"),
            ("city", "Łódź"),
            ("country", "PL"),
            ("company", "Łęcka sp. z o.o."),
            ("nip", "5260250274"),
            ("language", "pl"),
            ("client_ip", "203.0.113.7"),
            ("utm_source", "newsletter"),
            ("utm_medium", "email"),
            ("utm_content", "baner"),
            ("utm_term", "kurs js"),
            ("utm_campaign", "zima"),
            ("track", "ZIMA-2026"),
        ]);
        if paid == "1" {
            values.extend(strings(&[("paid_date", "1796112300")]));
        }
        if r.got["product_id"] == "11" {
            values.extend(strings(&[
                ("product_id", "11"),
                ("product_shortname", "kurs-js"),
                ("product_fullname", "Kurs JavaScript: zaawansowany"),
                ("product_category", "3"),
                ("product_type", "course"),
                ("product_lang", "pl"),
                ("product_url", "https://sklep.example/kurs-js"),
                ("amount", "129.00"),
            ]));
        } else {
            values.extend(strings(&[
                ("product_id", "12"),
                ("product_fullname", "Baju Kurung Moden"),
                ("product_category", "7"),
                ("amount", "49.00"),
            ]));
        }
        check(&what, &ekademia, &r.got, &values, &mut failures);
    }

    // JustClick: made, paid (with `paid`), cancelled (the doc's shorter list).
    for r in deliveries(&php, &fixture, "justclick").await {
        let what = format!("justclick {}", r.event_type);
        assert_eq!(r.extra["hash_ok"], true, "{what}: the doc's md5 line holds");
        let cancel = r.event_type == "order.cancelled";
        assert_eq!(
            r.extra["has_paid"],
            r.event_type == "order.paid",
            "{what}: `paid` only when paid"
        );
        let status = match r.event_type.as_str() {
            "order.created" => "new order",
            "order.paid" => "paid",
            _ => "cancel_order",
        };
        let mut values = strings(&[
            ("status", status),
            ("id", "5001"),
            ("first_name", "Zofia"),
            ("last_name", "Łęcka-Wiśniewska"),
            ("middle_name", "Maria"),
            ("email", "zofia+zamowienia@example.pl"),
            ("phone", "+48600100200"),
            ("city", "Cyberjaya"),
            ("country", "MY"),
            ("region", "Selangor"),
            ("postalcode", "63000"),
            ("created", "2026-12-01 11:00:00"),
            ("comment", COMMENT),
            ("utm[medium]", "email"),
            ("utm[source]", "newsletter"),
            ("utm[campaign]", "zima"),
            ("utm[content]", "baner"),
            ("utm[term]", "kurs js"),
            ("items[0][id]", "KURS-JS"),
            ("items[0][title]", "Kurs JavaScript: zaawansowany"),
            ("items[0][sum]", "129.00"),
            ("items[0][price]", "129.00"),
            ("items[1][id]", "BAJU-H"),
            ("items[1][title]", "Baju Kurung Moden"),
            ("items[1][sum]", "49.00"),
            ("items[1][price]", "24.50"),
        ]);
        if !cancel {
            values.extend(strings(&[
                ("address", "Persiaran Permata Perdana 18/3A"),
                ("tag", "vip"),
                ("kupon", "ZIMA10"),
                ("domain", "sklep.example"),
                ("link", "https://sklep.example/pay/5001"),
            ]));
        }
        let hash = r.got["hash"].clone();
        values.push(("hash", hash));
        check(
            &what,
            &justclick[usize::from(cancel)],
            &r.got,
            &values,
            &mut failures,
        );
    }

    // Shoppegram: the paid order and the shipped one as checkouts, and the checkout.
    for r in deliveries(&php, &fixture, "shoppegram").await {
        let what = format!("shoppegram {}", r.event_type);
        let values = if r.event_type == "checkout.completed" {
            assert_eq!(r.extra["item1"], Value::Null);
            strings(&[
                ("checkout.id", "1262140"),
                ("checkout.domain", "mirfaith.myshoppegram.com"),
                ("checkout.url", "https://mirfaith.myshoppegram.com"),
                ("checkout.currency", "MYR"),
                ("checkout.total", "10.00"),
                ("checkout.shipping", "0.00"),
                ("checkout.rate", "FREE SHIPPING COD"),
                // the doc's own examples
                ("checkout.completed_at", "2021-03-03T22:58:32+08:00"),
                ("checkout.created_at", "2021-03-03T22:58:17+08:00"),
                ("checkout.items[].product.name", "Test"),
                ("checkout.items[].product.sku", "123456"),
                ("checkout.items[].name", "2 Unit/ Hitam"),
                ("checkout.items[].currency", "MYR"),
                ("checkout.items[].price", "10.00"),
                ("checkout.items[].subtotal", "10.00"),
                ("checkout.customer.first_name", "Abu"),
                ("checkout.customer.last_name", "Ali"),
                ("checkout.customer.phone", "60123456789"),
                ("checkout.customer.email", "abuali@example.my"),
                ("checkout.shipping_address.first_name", "Nur"),
                ("checkout.shipping_address.last_name", "Aishah"),
                ("checkout.shipping_address.phone", "601122334455"),
                ("checkout.shipping_address.email", "nuraishah@example.my"),
                (
                    "checkout.shipping_address.address1",
                    "Persiaran Permata Perdana",
                ),
                ("checkout.shipping_address.address2", "-"),
                ("checkout.shipping_address.zip", "63000"),
                ("checkout.shipping_address.city", "Selangor"),
                ("checkout.shipping_address.state", "Cyberjaya"),
            ])
            .into_iter()
            .chain([("checkout.items[].quantity", json!(1))])
            .collect::<Vec<_>>()
        } else {
            assert_eq!(
                r.extra["item1"], "2 Unit/ Hitam",
                "{what}: an item's name is its variant"
            );
            strings(&[
                ("checkout.id", "5001"),
                ("checkout.domain", "sklep.example"),
                ("checkout.url", "https://sklep.example"),
                ("checkout.currency", "PLN"),
                ("checkout.total", "187.00"),
                ("checkout.shipping", "14.99"),
                ("checkout.rate", "Kurier 24h + ubezpieczenie"),
                ("checkout.completed_at", "2026-12-01T16:05:00+08:00"),
                ("checkout.created_at", "2026-12-01T16:00:00+08:00"),
                (
                    "checkout.items[].product.name",
                    "Kurs JavaScript: zaawansowany",
                ),
                ("checkout.items[].product.sku", "KURS-JS"),
                ("checkout.items[].name", "Kurs JavaScript: zaawansowany"),
                ("checkout.items[].currency", "PLN"),
                ("checkout.items[].price", "129.00"),
                ("checkout.items[].subtotal", "129.00"),
                ("checkout.customer.first_name", "Zofia"),
                ("checkout.customer.last_name", "Łęcka-Wiśniewska"),
                ("checkout.customer.phone", "+48600100200"),
                ("checkout.customer.email", "zofia+zamowienia@example.pl"),
                ("checkout.shipping_address.first_name", "Nur Aishah"),
                ("checkout.shipping_address.last_name", "binti Ahmad"),
                ("checkout.shipping_address.phone", "+60123456789"),
                ("checkout.shipping_address.email", "nur.aishah@example.my"),
                (
                    "checkout.shipping_address.address1",
                    "Persiaran Permata Perdana",
                ),
                ("checkout.shipping_address.address2", "Blok B, tingkat 3"),
                ("checkout.shipping_address.zip", "63000"),
                ("checkout.shipping_address.city", "Cyberjaya"),
                ("checkout.shipping_address.state", "Selangor"),
            ])
            .into_iter()
            .chain([("checkout.items[].quantity", json!(1))])
            .collect()
        };
        check(&what, &shoppegram, &r.got, &values, &mut failures);
    }

    // SalesDrive: new_order, then a status_change per status; checked in full when
    // shipped (the Nova Poshta block filled, Ukrposhta's every key empty).
    for r in deliveries(&php, &fixture, "salesdrive").await {
        let what = format!("salesdrive {} {}", r.step, r.event_type);
        assert_eq!(
            r.extra["gift_wrap"], true,
            "{what}: custom fields at the top of data"
        );
        let statuses: Vec<&str> = r.extra["statuses"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let (version, status, event, payed, rest, payment_date, en, manual) = match r.step.as_str()
        {
            "created" => ("1", "new", "new_order", "0.00", "187.00", "", "", ""),
            "paid" => (
                "2",
                "processing",
                "status_change",
                "187.00",
                "0.00",
                "2026-12-01 10:05:00",
                "",
                "",
            ),
            "shipped" => (
                "3",
                "shipped",
                "status_change",
                "187.00",
                "0.00",
                "2026-12-01 10:05:00",
                "20450123456789",
                "1",
            ),
            _ => (
                "4",
                "cancelled",
                "status_change",
                "187.00",
                "0.00",
                "2026-12-01 10:05:00",
                "20450123456789",
                "1",
            ),
        };
        assert!(
            statuses.contains(&status) && statuses.contains(&"new"),
            "{what}: option lists {statuses:?}"
        );
        let mut values = strings(&[
            ("info[webhookType]", "order"),
            ("info[webhookEvent]", event),
            ("info[account]", "acme"),
            ("data[id]", "5001"),
            ("data[version]", version),
            ("data[orderTime]", "2026-12-01 10:00:00"),
            ("data[statusId]", status),
            ("data[paymentAmount]", "187.00"),
            ("data[payedAmount]", payed),
            ("data[restPay]", rest),
            ("data[paymentDate]", payment_date),
            ("data[comment]", COMMENT),
            ("data[payment_method]", "blik"),
            ("data[shipping_method]", "WarehouseDoors"),
            ("data[ord_delivery]", "nova_poshta"),
            ("data[timeEntryOrder]", "2026-12-01 10:00:00"),
            ("data[utmPage]", "https://sklep.example/koszyk?a=1&b=2"),
            ("data[utmMedium]", "email"),
            (
                "data[utmSourceFull]",
                "https://sklep.example/koszyk?a=1&b=2",
            ),
            ("data[utmSource]", "newsletter"),
            ("data[utmCampaign]", "zima"),
            ("data[contacts][0][id]", "77"),
            ("data[contacts][0][fName]", "Zofia"),
            ("data[contacts][0][lName]", "Łęcka-Wiśniewska"),
            ("data[contacts][0][mName]", "Maria"),
            ("data[contacts][0][phone]", "+48600100200"),
            ("data[contacts][0][email]", "zofia+zamowienia@example.pl"),
            ("data[contacts][0][company]", "Łęcka sp. z o.o."),
            ("data[contacts][0][counterparty][name]", "Łęcka sp. z o.o."),
            ("data[contacts][0][counterparty][code]", "5260250274"),
            ("data[products][0][productId]", "11"),
            ("data[products][0][parameter]", "KURS-JS"),
            ("data[products][0][name]", "Kurs JavaScript: zaawansowany"),
            ("data[products][0][sku]", "KURS-JS"),
            ("data[products][0][price]", "129.00"),
            ("data[products][0][discount]", "0.00"),
            ("data[products][0][categoryName]", "3"),
            ("data[products][0][href]", "https://sklep.example/kurs-js"),
            ("data[ord_novaposhta][delivery]", "WarehouseDoors"),
            (
                "data[ord_novaposhta][city]",
                "db5c88f0-391c-11dd-90d9-001a92567626",
            ),
            ("data[ord_novaposhta][house]", "18"),
            ("data[ord_novaposhta][flat]", "3A"),
            ("data[ord_novaposhta][note]", "Blok B, tingkat 3"),
            ("data[ord_novaposhta][EN]", en),
            ("data[ord_novaposhta][branchNumber]", "7"),
            ("data[ord_novaposhta][backDelivery]", "None"),
            ("data[ord_novaposhta][manualEN]", manual),
            ("data[ord_novaposhta][cost]", "14.99"),
            ("data[ord_novaposhta][legal]", "1"),
            ("data[ord_novaposhta][companyName]", "Łęcka sp. z o.o."),
            ("data[ord_novaposhta][egrpou]", "5260250274"),
        ]);
        values.extend([
            ("data[products][0][amount]", json!(1)),
            ("data[products][0][percentDiscount]", json!(0)),
            ("data[products][0][percentCommission]", json!(0)),
            ("data[products][0][preSale]", json!(0)),
            ("data[products][0][isComplect]", json!(0)),
        ]);
        check(&what, &salesdrive, &r.got, &values, &mut failures);
    }

    // Sellasist: "Wywołaj url" with the two variables in it, no body.
    for r in deliveries(&php, &fixture, "sellasist").await {
        assert_eq!(r.extra["method"], "GET");
        assert_eq!(r.extra["body"], "");
        let values = strings(&[("{id_order}", "5001")])
            .into_iter()
            .chain([("{id_job}", json!(r.webhook_id))])
            .collect::<Vec<_>>();
        check("sellasist", &sellasist, &r.got, &values, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
