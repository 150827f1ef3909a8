# Settings: store, API keys, webhook secrets, people.
settings-currency = Արժույթ
settings-timezone = Ժամային գոտի
settings-locale = Լռելյայն լեզու
settings-webhooks = Խանութի webhook-ներ
settings-webhooks-help = Տեղադրեք այս հասցեները ձեր խանութի ադմինում՝ այս սերվերի հանրային հասցեի հետ։
settings-people = Մարդիկ
settings-role = Դեր
