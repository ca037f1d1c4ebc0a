package app_test

import "golang.org/x/oauth2"

func authStyle(n int) oauth2.AuthStyle { return oauth2.AuthStyle(n) }
