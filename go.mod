module github.com/stx-build/stx-build

go 1.26.8

require (
	github.com/sourcegraph/conc v0.3.0
	github.com/spf13/cobra v1.10.2
	golang.org/x/sync v0.25.0
	gopkg.in/yaml.v3 v3.0.1
	pault.ag/go/debian v0.19.0
)

require (
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/kr/text v0.2.0 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
	golang.org/x/crypto v0.40.0 // indirect
	pault.ag/go/topsort v0.1.1 // indirect
)
