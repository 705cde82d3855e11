//go:build faultinject

package hwaccel

func init() { RegisterKind("fault", openFault, nil) }
