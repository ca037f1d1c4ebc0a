// Package checks holds offline tests of AgentIdP's deployment artifacts.
package checks
