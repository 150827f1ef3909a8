app-name = Regulars
app-tagline = Միանգամյա գնորդներին դարձրեք մշտական հաճախորդներ

nav-overview = Ամփոփում
nav-customers = Հաճախորդներ
nav-orders = Պատվերներ
nav-import = Ներմուծում
nav-settings = Կարգավորումներ
nav-language = Լեզու
nav-store = Խանութ
nav-signed-in-as = Մուտք եք գործել որպես { $email }
nav-logout = Ելք

login-title = Մուտք
login-email = Էլ. փոստ
login-password = Գաղտնաբառ
login-submit = Մուտք գործել
login-failed = Էլ. փոստը և գաղտնաբառը չեն համապատասխանում։
login-throttled = Չափազանց շատ փորձեր։ Կրկին փորձեք { $seconds } վայրկյանից։
login-logged-out = Դուք դուրս եկաք համակարգից։

role-owner = Սեփականատեր
role-admin = Ադմինիստրատոր
role-marketer = Մարքեթոլոգ
role-support = Աջակցման աշխատակից
role-account_manager = Հաճախորդների մենեջեր
role-viewer = Դիտորդ

overview-title = Ամփոփում
overview-period = Վերջին { $days } օրը
overview-orders = Պատվերներ
overview-revenue = Հասույթ
overview-customers = Հաճախորդներ
overview-new-customers = Նոր հաճախորդներ
overview-returning-customers = Վերադարձած հաճախորդներ
overview-day = Օր
overview-repeat-rate = Կրկնակի գնումների տոկոս

error-forbidden = Դուք այս էջի թույլտվություն չունեք։
error-not-found = Այստեղ ոչինչ չկա։
error-csrf = Այս ձևի ժամկետն անցել է։ Թարմացրեք էջը և կրկին փորձեք։

login-link-spent = Մուտքի այս հղումը ժամկետանց է կամ արդեն օգտագործվել է։ Մուտք գործեք գաղտնաբառով։
account-title = Ձեր հաշիվը
account-current = Ընթացիկ գաղտնաբառ
account-new = Նոր գաղտնաբառ
account-repeat = Նոր գաղտնաբառը կրկին
account-submit = Փոխել գաղտնաբառը
account-changed = Ձեր գաղտնաբառը փոխվեց։ Մյուս սարքերից դուրս եք եկել։
account-mismatch = Երկու նոր գաղտնաբառերը տարբեր են։
account-wrong-current = Ընթացիկ գաղտնաբառը ճիշտ չէ։
account-too-short = Գաղտնաբառը պետք է ունենա առնվազն { $chars } նիշ։
