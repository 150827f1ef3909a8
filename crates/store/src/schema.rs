//! Table and column names for sea-query. Kept in step with the migration files.
#![allow(dead_code)]

use sea_query::Iden;

#[derive(Iden, Clone, Copy)]
pub enum Stores {
    Table,
    Id,
    Name,
    Currency,
    Timezone,
    Locale,
    CreatedAt,
}

#[derive(Iden, Clone, Copy)]
pub enum ApiKeys {
    Table,
    Id,
    StoreId,
    Name,
    Prefix,
    KeyHash,
    CreatedAt,
    RevokedAt,
}

#[derive(Iden, Clone, Copy)]
pub enum WebhookSecrets {
    Table,
    Id,
    StoreId,
    Source,
    Secret,
    CreatedAt,
}

#[derive(Iden, Clone, Copy, PartialEq, Eq)]
pub enum Customers {
    Table,
    Id,
    StoreId,
    Email,
    Phone,
    FirstName,
    LastName,
    Locale,
    Birthday,
    Tags,
    Attributes,
    Note,
    AcquisitionChannel,
    AcquisitionCostMinor,
    AcquisitionCostCurrency,
    HasAccount,
    ConsentEmail,
    ConsentSms,
    ConsentWhatsapp,
    OrdersCount,
    TotalSpentMinor,
    FirstOrderAt,
    LastOrderAt,
    CreatedAt,
    UpdatedAt,
    AccountManagerId,
    NameKey,
    SurnameKey,
    #[iden = "p_alive"]
    PAlive,
    #[iden = "predicted_purchases_12m"]
    PredictedPurchases12m,
    #[iden = "clv_12m_minor"]
    Clv12mMinor,
    NextPurchaseAt,
    RfmRecency,
    RfmFrequency,
    RfmMonetary,
    RfmSegment,
    Vip,
    AnalyticsAt,
}

#[derive(Iden, Clone, Copy)]
pub enum CustomerIdentities {
    Table,
    StoreId,
    Source,
    ExternalId,
    CustomerId,
}

#[derive(Iden, Clone, Copy)]
pub enum ConsentEvents {
    Table,
    Id,
    StoreId,
    CustomerId,
    Channel,
    Granted,
    OccurredAt,
    RecordedAt,
    CollectedVia,
    NoticeVersion,
    NoticeHash,
    Language,
    Ip,
    UserAgent,
    Actor,
}

#[derive(Iden, Clone, Copy)]
pub enum Orders {
    Table,
    Id,
    StoreId,
    Source,
    ExternalId,
    OrderNumber,
    CustomerId,
    PlacedAt,
    SourceUpdatedAt,
    Currency,
    Subtotal,
    DiscountTotal,
    ShippingTotal,
    TaxTotal,
    Total,
    RefundedTotal,
    FinancialStatus,
    Status,
    CancelledAt,
    Marketplace,
    BuyerAcceptsMarketing,
    Note,
    DiscountCodes,
    Fingerprint,
    CreatedAt,
    UpdatedAt,
}

#[derive(Iden, Clone, Copy)]
pub enum OrderLines {
    Table,
    OrderId,
    Position,
    ExternalId,
    ProductExternalId,
    VariantExternalId,
    Sku,
    Title,
    Quantity,
    UnitPrice,
    Discount,
}

#[derive(Iden, Clone, Copy)]
pub enum Refunds {
    Table,
    Id,
    StoreId,
    OrderId,
    ExternalId,
    CreatedAt,
    Amount,
    Reason,
    Lines,
}

#[derive(Iden, Clone, Copy)]
pub enum Products {
    Table,
    StoreId,
    Source,
    ProductKey,
    Sku,
    Title,
    Currency,
    LastPrice,
    FirstSeenAt,
    LastSeenAt,
}

#[derive(Iden, Clone, Copy)]
pub enum Events {
    Table,
    Id,
    StoreId,
    CustomerId,
    Kind,
    Name,
    OccurredAt,
    RecordedAt,
    DedupeKey,
    Data,
}

#[derive(Iden, Clone, Copy)]
pub enum IdempotencyKeys {
    Table,
    StoreId,
    Key,
    RequestHash,
    State,
    ResponseStatus,
    ResponseBody,
    CreatedAt,
    CompletedAt,
}

#[derive(Iden, Clone, Copy)]
pub enum WebhookDeliveries {
    Table,
    StoreId,
    Source,
    DeliveryId,
    Topic,
    ReceivedAt,
}

#[derive(Iden, Clone, Copy)]
pub enum Imports {
    Table,
    Id,
    StoreId,
    Kind,
    FileName,
    StartedAt,
    FinishedAt,
    Summary,
    UserId,
    Status,
    RowsRead,
    Error,
}

#[derive(Iden, Clone, Copy)]
pub enum CustomerTags {
    Table,
    StoreId,
    Tag,
    CustomerId,
}

#[derive(Iden, Clone, Copy)]
pub enum CustomerNotes {
    Table,
    Id,
    StoreId,
    CustomerId,
    AuthorId,
    Body,
    CreatedAt,
}

#[derive(Iden, Clone, Copy)]
pub enum Users {
    Table,
    Id,
    Email,
    PasswordHash,
    DisplayName,
    Locale,
    Disabled,
    CreatedAt,
    UpdatedAt,
}

#[derive(Iden, Clone, Copy)]
pub enum Memberships {
    Table,
    StoreId,
    UserId,
    Role,
    CreatedAt,
}

#[derive(Iden, Clone, Copy)]
pub enum Sessions {
    Table,
    TokenHash,
    UserId,
    CsrfToken,
    CreatedAt,
    LastSeenAt,
}

#[derive(Iden, Clone, Copy)]
pub enum LoginFailures {
    Table,
    Id,
    Account,
    Address,
    At,
}

#[derive(Iden, Clone, Copy)]
pub enum LoginLinks {
    Table,
    TokenHash,
    UserId,
    CreatedAt,
    ExpiresAt,
    UsedAt,
}

#[derive(Iden, Clone, Copy)]
pub enum OrderBuckets {
    Table,
    StoreId,
    Bucket,
    Orders,
    RevenueMinor,
    FirstOrders,
    LastOrders,
}

#[derive(Iden, Clone, Copy)]
pub enum StoreCounters {
    Table,
    StoreId,
    Buyers,
    RepeatBuyers,
}

#[derive(Iden, Clone, Copy)]
pub enum AnalyticsModels {
    Table,
    StoreId,
    FittedAt,
    TimeUnit,
    Customers,
    RepeatBuyers,
    MbgNbd,
    GammaGamma,
    LogLikelihood,
    RfmCuts,
    VipThresholdMinor,
    Failure,
    FailureDetail,
    DurationMs,
}
