// Package tenants owns who a caller is and what it may do: the tenant
// table (each institution sharing the service, its API token digests and
// client-certificate names), each tenant's weight in the worker share and
// its quotas (unfinished jobs, submission rate), and the tenant a call runs
// as (in its context). It knows nothing of gRPC: the server reads the
// credentials off the connection and asks the table whose they are.
package tenants
