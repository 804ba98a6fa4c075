module weir.dev/weir/deploy/helm/test

go 1.26.0

require (
	github.com/stretchr/testify v1.12.1 // indirect
	helm.sh/helm/v3 v3.22.0 // indirect
)
