//! Mail through an SMTP relay, with lettre over rustls: STARTTLS (required, never
//! opportunistic), implicit TLS, or plain for a relay on this machine. lettre's own timeout
//! covers only the connect (lettre#1027), so the sender bounds every attempt as a whole.

use std::future::Future;
use std::pin::Pin;

use lettre::message::{Mailbox, Message, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::alert::Notification;
use super::channel::Transport;
use super::retry::SendError;
use super::text;
use crate::config::{SmtpChannelConfig, SmtpSecurity};

pub struct Smtp {
    cfg: SmtpChannelConfig,
    from: Mailbox,
    to: Vec<Mailbox>,
    tls: Option<TlsParameters>,
}

impl Smtp {
    pub fn new(cfg: &SmtpChannelConfig) -> Result<Smtp, String> {
        crate::tls::install_provider();
        let from = cfg
            .from
            .parse()
            .map_err(|e| format!("from {:?}: {e}", cfg.from))?;
        let to = cfg
            .to
            .iter()
            .map(|t| t.parse().map_err(|e| format!("to {t:?}: {e}")))
            .collect::<Result<Vec<Mailbox>, String>>()?;
        let tls = match cfg.security {
            SmtpSecurity::None => None,
            _ => {
                let mut b = TlsParameters::builder(cfg.server.clone());
                if let Some(ca) = &cfg.ca_file {
                    let pem =
                        std::fs::read(ca).map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
                    let cert = Certificate::from_pem(&pem)
                        .map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
                    b = b.add_root_certificate(cert);
                }
                Some(b.build_rustls().map_err(|e| format!("TLS setup: {e}"))?)
            }
        };
        Ok(Smtp {
            cfg: cfg.clone(),
            from,
            to,
            tls,
        })
    }

    fn password(&self) -> Result<Option<String>, SendError> {
        if let Some(p) = &self.cfg.password_file {
            return std::fs::read_to_string(p)
                .map(|t| Some(t.trim_end_matches(['\r', '\n']).to_string()))
                .map_err(|e| SendError::fatal(format!("password_file {}: {e}", p.display())));
        }
        if let Some(v) = &self.cfg.password_env {
            return std::env::var(v)
                .map(Some)
                .map_err(|_| SendError::fatal(format!("password_env: ${v} is not set")));
        }
        Ok(None)
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, SendError> {
        let tls = match (&self.tls, self.cfg.security) {
            (Some(p), SmtpSecurity::Starttls) => Tls::Required(p.clone()),
            (Some(p), SmtpSecurity::Tls) => Tls::Wrapper(p.clone()),
            _ => Tls::None,
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.cfg.server)
            .port(self.cfg.port())
            .tls(tls)
            .timeout(Some(self.cfg.timeout.get()));
        if let (Some(user), Some(pass)) = (&self.cfg.username, self.password()?) {
            b = b.credentials(Credentials::new(user.clone(), pass));
        }
        Ok(b.build())
    }

    fn message(&self, n: &Notification) -> Result<Message, SendError> {
        let mut m = Message::builder()
            .from(self.from.clone())
            .subject(text::title(n));
        for t in &self.to {
            m = m.to(t.clone());
        }
        m.header(ContentType::TEXT_PLAIN)
            .body(text::body(n))
            .map_err(|e| SendError::fatal(format!("cannot build the mail: {e}")))
    }

    async fn send_mail(&self, n: &Notification) -> Result<(), SendError> {
        let mail = self.message(n)?;
        let transport = self.transport()?;
        match transport.send(mail).await {
            Ok(_) => Ok(()),
            Err(e) => {
                let message = format!("{}:{}: {e}", self.cfg.server, self.cfg.port());
                // 5xx: the server refuses this mail for good (bad address, auth); sending it
                // again changes nothing. Everything else may pass later.
                if e.is_permanent() {
                    Err(SendError::fatal(message))
                } else {
                    Err(SendError::retryable(message))
                }
            }
        }
    }
}

impl Transport for Smtp {
    fn send<'a>(
        &'a self,
        n: &'a Notification,
    ) -> Pin<Box<dyn Future<Output = Result<(), SendError>> + Send + 'a>> {
        Box::pin(self.send_mail(n))
    }
}
