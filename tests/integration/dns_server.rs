//! A small authoritative DNS server on 127.0.0.1 for `dns check` tests: answers CNAME, MX and TXT
//! queries from a fixed table over UDP, and stops when the test process ends.

use std::net::{SocketAddr, UdpSocket};
use std::str::FromStr;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{CNAME, MX, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// One answer: name (FQDN), and its data.
pub enum Answer {
    Cname(String),
    Mx(u16, String),
    Txt(String),
}

fn name(s: &str) -> Name {
    Name::from_str(&format!("{}.", s.trim_end_matches('.'))).expect("a valid name")
}

/// Starts the server; returns its address.
pub fn start(answers: Vec<(String, Answer)>) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP port");
    let addr = socket.local_addr().unwrap();
    let table: Vec<(Name, RecordType, RData)> = answers
        .into_iter()
        .map(|(owner, a)| match a {
            Answer::Cname(target) => (name(&owner), RecordType::CNAME, RData::CNAME(CNAME(name(&target)))),
            Answer::Mx(pref, exchange) => (name(&owner), RecordType::MX, RData::MX(MX::new(pref, name(&exchange)))),
            Answer::Txt(text) => (name(&owner), RecordType::TXT, RData::TXT(TXT::new(vec![text]))),
        })
        .collect();
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((len, peer)) = socket.recv_from(&mut buf) {
            let Ok(query) = Message::from_vec(&buf[..len]) else { continue };
            let mut reply = Message::new();
            reply.set_id(query.id()).set_message_type(MessageType::Response).set_op_code(query.op_code());
            reply.set_authoritative(true).set_recursion_available(true).set_response_code(ResponseCode::NoError);
            for q in query.queries() {
                reply.add_query(q.clone());
                for (owner, rtype, data) in &table {
                    if owner == q.name() && *rtype == q.query_type() {
                        reply.add_answer(Record::from_rdata(owner.clone(), 60, data.clone()));
                    }
                }
            }
            if let Ok(bytes) = reply.to_vec() {
                let _ = socket.send_to(&bytes, peer);
            }
        }
    });
    addr
}
