//! The scheduler: converges the nodes of a plan concurrently (at most `concurrency` at once), each
//! only after the nodes it depends on, and skips a node whose dependency failed, the way Salt skips
//! a failed requisite. It sits above the Pillar; each node goes through `reconcile`.

use std::collections::BTreeMap;

use futures::stream::{FuturesUnordered, StreamExt};

use crate::aws::{CallLog, Clients, Connection};
use crate::error::Error;
use crate::kind::{Cx, Shared};
use crate::pillar::Node;
use crate::protocol::StateReturn;

/// Holds everything the resources of one run share: clients, the test flag, the call log.
pub struct Engine {
    shared: Shared,
    log: CallLog,
    concurrency: usize,
}

/// How many resources one process converges at once. Measured (BENCHMARKS.md, "ocp-aws's
/// concurrency") with 20 ms a request: a no-op re-apply of the runbook x50 takes 7 times as long
/// one at a time as 8 at a time, 0.83 times at 32 and 0.79 times at 64 (there moto's CPU, not the
/// latency, sets the pace). Behind a proxy that throttles IAM and S3 every level converges
/// (adaptive retries) and 32 is a little faster than 8; 32 rather than 64 keeps the bursts against
/// AWS's request rates smaller.
pub const DEFAULT_CONCURRENCY: usize = 32;

impl Engine {
    /// Loads the SDK configuration and makes sure credentials can be found, so that a missing
    /// credential is one clear error rather than one per resource.
    pub async fn new(conn: &Connection, test: bool) -> Result<Self, Error> {
        let log = CallLog::default();
        let clients = Clients::new(conn, log.clone()).await?;
        clients.check_credentials().await?;
        Ok(Engine { shared: Shared::new(clients, test), log, concurrency: DEFAULT_CONCURRENCY })
    }

    /// Lets the run's DNS lookups ask these nameservers instead of the system's resolver.
    pub fn with_nameservers(mut self, nameservers: Vec<std::net::SocketAddr>) -> Self {
        self.shared.set_nameservers(nameservers);
        self
    }

    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// The AWS operations this engine has started so far.
    pub fn calls(&self) -> &CallLog {
        &self.log
    }

    pub fn cx<'a>(&'a self, region: &'a str) -> Cx<'a> {
        self.shared.cx(region)
    }

    /// Converges one resource.
    pub async fn converge_one(&self, node: &Node) -> StateReturn {
        node.spec.converge(&self.cx(&node.region), &node.name, node.ensure).await
    }

    /// Converges all nodes: independent ones concurrently (at most `concurrency` at a time),
    /// each only after the nodes it depends on. Returns one state return per node, in node order.
    pub async fn converge_all(&self, nodes: &[Node]) -> Vec<StateReturn> {
        let mut results: Vec<Option<StateReturn>> = vec![None; nodes.len()];
        let mut waiting: Vec<usize> = nodes.iter().map(|n| n.deps.len()).collect();
        let mut dependants: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, n) in nodes.iter().enumerate() {
            for &d in &n.deps {
                dependants.entry(d).or_default().push(i);
            }
        }
        let mut ready: Vec<usize> = (0..nodes.len()).filter(|&i| waiting[i] == 0).rev().collect();
        let mut running = FuturesUnordered::new();
        loop {
            while running.len() < self.concurrency {
                let Some(i) = ready.pop() else { break };
                let failed: Vec<String> = nodes[i]
                    .deps
                    .iter()
                    .filter(|&&d| results[d].as_ref().is_some_and(|r| r.result == Some(false)))
                    .map(|&d| nodes[d].id())
                    .collect();
                if failed.is_empty() {
                    running.push(async move { (i, self.converge_one(&nodes[i]).await) });
                } else {
                    let comment = format!("One or more requisite failed: {}.", failed.join(", "));
                    self.finish(
                        nodes,
                        i,
                        StateReturn::failed(&nodes[i].name, comment),
                        &mut results,
                        &mut waiting,
                        &dependants,
                        &mut ready,
                    );
                }
            }
            match running.next().await {
                Some((i, ret)) => self.finish(nodes, i, ret, &mut results, &mut waiting, &dependants, &mut ready),
                None if ready.is_empty() => break,
                None => {}
            }
        }
        results.into_iter().map(|r| r.expect("every node finishes")).collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        nodes: &[Node],
        i: usize,
        mut ret: StateReturn,
        results: &mut [Option<StateReturn>],
        waiting: &mut [usize],
        dependants: &BTreeMap<usize, Vec<usize>>,
        ready: &mut Vec<usize>,
    ) {
        ret.id = Some(nodes[i].id());
        results[i] = Some(ret);
        for &j in dependants.get(&i).into_iter().flatten() {
            waiting[j] -= 1;
            if waiting[j] == 0 {
                // Keep node order among ready nodes: `ready` pops from the end.
                let at = ready.partition_point(|&r| r > j);
                ready.insert(at, j);
            }
        }
    }
}
