//! The control protocol: frame decoding and request decoding of whatever a client sends.

use crate::control::frame::read_frame_blocking;
use crate::control::protocol::{MAX_FRAME, decode_request, encode_request};

pub fn check(data: &[u8]) {
    // A stream of frames, read the way the server reads them, until an error or the end.
    let mut r = data;
    for _ in 0..64 {
        match read_frame_blocking(&mut r) {
            Ok(Some(body)) => {
                assert!(
                    body.len() <= MAX_FRAME,
                    "a frame above the limit was accepted"
                );
                request(&body);
            }
            Ok(None) | Err(_) => break,
        }
    }
    // The raw bytes as one request body too (most inputs are not framed).
    request(data);
}

fn request(body: &[u8]) {
    if let Ok(req) = decode_request(body) {
        // What decodes re-encodes and decodes to the same request.
        let again = decode_request(&encode_request(&req)).expect("a re-encoded request decodes");
        assert_eq!(format!("{req:?}"), format!("{again:?}"));
    }
}
