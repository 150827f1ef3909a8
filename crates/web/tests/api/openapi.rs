use crate::helpers::TestApp;

#[test]
fn openapi_document_is_stable() {
    insta::assert_snapshot!("openapi", regulars_web::openapi_json());
}

#[tokio::test]
async fn served_document_matches_and_health_and_metrics_answer() {
    let app = TestApp::spawn(regulars_testkit::Backend::Sqlite).await;
    let served = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(served, regulars_web::openapi_json());
    let doc: serde_json::Value = serde_json::from_str(&served).unwrap();
    assert!(doc["paths"]["/api/v1/orders/bulk"]["post"].is_object());

    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    app.post("/api/v1/orders", &crate::helpers::order_json("m-1", "1499.00"))
        .await;
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("regulars_http_requests_total"), "{metrics}");
    assert!(
        metrics.contains("route=\"/api/v1/orders\""),
        "labels use the route template"
    );
}
