module passerelle/deploy/kubernetes/schemas/cloudnative-pg

go 1.25.0

require (
	github.com/cloudnative-pg/cloudnative-pg v1.28.2
	go.yaml.in/yaml/v3 v3.0.4
)
