//! Background noise: the records a real host's Security and System logs are mostly made of
//! (logons, logoffs, privilege use, ordinary process creations, Windows Filtering Platform
//! connections, service state changes, DCOM errors, ...), at per-host daily volumes and in the
//! event-id mix of real logs. None of it is a scheduled-task event: it is what a reader must
//! get through to find them. The numbers and their sources are in `samples/README.md`.
//!
//! Generated one host-day at a time, from a random stream of its own (seeded from the fleet's
//! seed and the host), so that the task events and planted attacks are the same with or
//! without it, and memory stays one day of one host.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{DOMAIN, DOMAIN_SID, SEC_GUID, SEC_PROVIDER, US_PER_DAY, USERS};
use crate::event::{CH_SECURITY, CH_SYSTEM};
use crate::evtx_writer::EventSpec;

/// How much background to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Background {
    /// Task events only (the fleet before background noise existed).
    None,
    /// A fiftieth of the realistic volume: enough to make the Security logs mostly noise, small enough
    /// for the bundled samples.
    Light,
    /// Per-host daily volumes of real logs.
    #[default]
    Realistic,
}

impl Background {
    /// Security and System records per host and day (workstation, server).
    fn per_day(self, server: bool) -> (u32, u32) {
        let (sec, sys) = if server { (6_000, 300) } else { (2_500, 150) };
        match self {
            Background::None => (0, 0),
            Background::Light => (sec / 50, sys / 50),
            Background::Realistic => (sec, sys),
        }
    }
}

/// Security event mix: (event id, share in per mille). Sums to 1000.
pub const SECURITY_MIX: &[(u16, u32)] = &[
    (4624, 220), // logon
    (4634, 180), // logoff
    (4672, 140), // special privileges assigned to a new logon
    (4688, 120), // process creation (ordinary processes)
    (5156, 100), // WFP: connection permitted
    (4907, 60),  // auditing settings on an object changed (servicing)
    (5158, 40),  // WFP: bind permitted
    (4648, 30),  // logon with explicit credentials
    (4798, 25),  // a user's local group membership enumerated
    (4799, 25),  // a security-enabled local group enumerated
    (5058, 20),  // key file operation
    (5061, 20),  // cryptographic operation
    (4625, 10),  // failed logon
    (4776, 10),  // credential validation
];

/// System event mix: (provider, event id, share in per mille). Sums to 1000.
pub const SYSTEM_MIX: &[(&str, u16, u32)] = &[
    ("Service Control Manager", 7036, 350),
    ("Microsoft-Windows-DistributedCOM", 10016, 150),
    ("Service Control Manager", 7040, 80),
    ("Microsoft-Windows-Kernel-General", 16, 80),
    ("Microsoft-Windows-DNS-Client", 1014, 80),
    ("Microsoft-Windows-Kernel-General", 1, 80),
    ("EventLog", 6013, 40),
    ("Service Control Manager", 7001, 40),
    ("Microsoft-Windows-Kernel-General", 12, 20),
    ("Microsoft-Windows-Kernel-General", 13, 20),
    ("Service Control Manager", 7031, 20),
    ("Microsoft-Windows-DistributedCOM", 10010, 20),
    ("Microsoft-Windows-Time-Service", 134, 20),
];

const PROCESSES: &[&str] = &[
    r"C:\Windows\System32\svchost.exe",
    r"C:\Windows\System32\conhost.exe",
    r"C:\Windows\System32\RuntimeBroker.exe",
    r"C:\Windows\System32\backgroundTaskHost.exe",
    r"C:\Windows\System32\SearchProtocolHost.exe",
    r"C:\Windows\System32\dllhost.exe",
    r"C:\Windows\System32\WmiPrvSE.exe",
    r"C:\Program Files\Google\Chrome\Application\chrome.exe",
    r"C:\Program Files\Microsoft Office\root\Office16\OUTLOOK.EXE",
    r"C:\Windows\explorer.exe",
    r"C:\Windows\System32\msiexec.exe",
    r"C:\Windows\System32\wbem\WmiApSrv.exe",
];

const SERVICES: &[&str] = &[
    "Windows Update",
    "Background Intelligent Transfer Service",
    "WinHTTP Web Proxy Auto-Discovery Service",
    "Windows Modules Installer",
    "Delivery Optimization",
    "Microsoft Store Install Service",
    "Windows Defender Antivirus Network Inspection Service",
    "Device Setup Manager",
];

/// One host's background records, a day at a time, in time order.
pub struct Noise {
    rng: StdRng,
    host: String,
    fqdn: String,
    per_day: u32,
    security: bool,
    day: u32,
    days: u32,
    start: i64,
}

impl Noise {
    /// The noise of one host's Security (`security`) or System log.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        level: Background,
        seed: u64,
        host_index: usize,
        host: &str,
        fqdn: &str,
        server: bool,
        security: bool,
        days: u32,
        start: i64,
    ) -> Noise {
        let (sec, sys) = level.per_day(server);
        let stream = (host_index as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03)
            ^ if security { 0x5EC } else { 0x5A5 };
        Noise {
            rng: StdRng::seed_from_u64(seed ^ 0xB4C6_0000_0000_0000 ^ stream),
            host: host.to_string(),
            fqdn: fqdn.to_string(),
            per_day: if security { sec } else { sys },
            security,
            day: 0,
            days,
            start,
        }
    }

    /// The next day's records, in time order (`None` after the last day).
    pub fn next_day(&mut self) -> Option<Vec<EventSpec>> {
        if self.day >= self.days {
            return None;
        }
        let day_start = self.start + i64::from(self.day) * US_PER_DAY;
        self.day += 1;
        // +-20 % from day to day.
        let n = if self.per_day == 0 {
            0
        } else {
            let lo = self.per_day * 4 / 5;
            self.rng.random_range(lo..=self.per_day + self.per_day / 5)
        };
        let mut times: Vec<i64> = (0..n)
            .map(|_| day_start + self.rng.random_range(0..US_PER_DAY))
            .collect();
        times.sort_unstable();
        Some(times.into_iter().map(|t| self.event(t)).collect())
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.random_range(0..items.len())]
    }

    fn weighted(&mut self, weights: impl Iterator<Item = u32> + Clone) -> usize {
        let total: u32 = weights.clone().sum();
        let mut x = self.rng.random_range(0..total.max(1));
        for (i, w) in weights.enumerate() {
            if x < w {
                return i;
            }
            x -= w;
        }
        0
    }

    fn event(&mut self, time: i64) -> EventSpec {
        if self.security {
            let i = self.weighted(SECURITY_MIX.iter().map(|m| m.1));
            let id = SECURITY_MIX[i].0;
            let data = self.security_data(id);
            EventSpec {
                provider: SEC_PROVIDER.into(),
                provider_guid: SEC_GUID.into(),
                event_id: id,
                version: if matches!(id, 4624 | 4688) { 2 } else { 0 },
                level: 0,
                task: 12544,
                opcode: 0,
                keywords: if id == 4625 {
                    0x8010_0000_0000_0000
                } else {
                    0x8020_0000_0000_0000
                },
                time,
                process_id: 4,
                thread_id: self.rng.random_range(100..9000),
                channel: CH_SECURITY.into(),
                computer: self.fqdn.clone(),
                user_sid: String::new(),
                data_name: String::new(),
                data,
            }
        } else {
            let i = self.weighted(SYSTEM_MIX.iter().map(|m| m.2));
            let (provider, id, _) = SYSTEM_MIX[i];
            let data = self.system_data(id);
            EventSpec {
                provider: provider.into(),
                provider_guid: String::new(),
                event_id: id,
                version: 0,
                level: if id == 10016 || id == 1014 { 3 } else { 4 },
                task: 0,
                opcode: 0,
                keywords: 0x8080_0000_0000_0000,
                time,
                process_id: self.rng.random_range(500..1500),
                thread_id: self.rng.random_range(100..9000),
                channel: CH_SYSTEM.into(),
                computer: self.fqdn.clone(),
                user_sid: if id == 10016 {
                    "S-1-5-18".into()
                } else {
                    String::new()
                },
                data_name: String::new(),
                data,
            }
        }
    }

    fn user(&mut self) -> (String, String, String) {
        // Mostly the machine account and service logons; a few interactive users.
        match self.rng.random_range(0..10) {
            0..=4 => (
                "S-1-5-18".into(),
                format!("{}$", self.host),
                DOMAIN.to_string(),
            ),
            5 | 6 => (
                "S-1-5-20".into(),
                "NETWORK SERVICE".into(),
                "NT AUTHORITY".into(),
            ),
            _ => {
                let u = self.pick(USERS);
                (
                    format!("{DOMAIN_SID}-{}", 1100 + u.len() as u32 * 7),
                    u.to_string(),
                    DOMAIN.to_string(),
                )
            }
        }
    }

    fn logon_id(&mut self) -> String {
        format!("0x{:x}", self.rng.random_range(0x10000u32..0x0fff_ffff))
    }

    fn ip(&mut self) -> String {
        format!(
            "10.{}.{}.{}",
            self.rng.random_range(0..4),
            self.rng.random_range(0..255),
            self.rng.random_range(1..255)
        )
    }

    /// A logon's fields after its subject (4624, 4625, 4648).
    fn logon_data(&mut self, id: u16, v: &mut Vec<(String, String)>) {
        let (tsid, tname, tdomain) = self.user();
        let lid = self.logon_id();
        v.push(("TargetUserSid".into(), tsid));
        v.push(("TargetUserName".into(), tname));
        v.push(("TargetDomainName".into(), tdomain));
        v.push(("TargetLogonId".into(), lid));
        let lt = self.pick(&["2", "3", "3", "3", "5", "5", "7", "10", "11"]);
        v.push(("LogonType".into(), lt.into()));
        v.push((
            "LogonProcessName".into(),
            if lt == "3" { "NtLmSsp " } else { "Advapi  " }.into(),
        ));
        v.push((
            "AuthenticationPackageName".into(),
            if lt == "3" { "NTLM" } else { "Negotiate" }.into(),
        ));
        v.push(("WorkstationName".into(), self.host.clone()));
        v.push((
            "LogonGuid".into(),
            "{00000000-0000-0000-0000-000000000000}".into(),
        ));
        v.push((
            "ProcessId".into(),
            format!("0x{:x}", self.rng.random_range(0x200..0x2000)),
        ));
        v.push((
            "ProcessName".into(),
            r"C:\Windows\System32\services.exe".into(),
        ));
        let ip = if lt == "3" { self.ip() } else { "-".into() };
        v.push(("IpAddress".into(), ip));
        v.push((
            "IpPort".into(),
            self.rng.random_range(0..65535u32).to_string(),
        ));
        if id == 4625 {
            v.push(("Status".into(), "0xc000006d".into()));
            v.push(("SubStatus".into(), "0xc000006a".into()));
        }
    }

    /// A process creation's fields after its subject (4688).
    fn process_data(&mut self, v: &mut Vec<(String, String)>) {
        let image = self.pick(PROCESSES);
        v.push((
            "NewProcessId".into(),
            format!("0x{:x}", self.rng.random_range(0x200..0x4000)),
        ));
        v.push(("NewProcessName".into(), image.into()));
        v.push(("TokenElevationType".into(), "%%1936".into()));
        v.push((
            "ProcessId".into(),
            format!("0x{:x}", self.rng.random_range(0x200..0x4000)),
        ));
        let args = match self.rng.random_range(0..3) {
            0 => String::new(),
            1 => " -k netsvcs -p".into(),
            _ => format!(
                " /processid:{{{:08X}-0000-0000-0000-000000000000}}",
                self.rng.random::<u32>()
            ),
        };
        v.push(("CommandLine".into(), format!("\"{image}\"{args}")));
        v.push(("TargetUserSid".into(), "S-1-0-0".into()));
        v.push(("TargetUserName".into(), "-".into()));
        v.push(("TargetDomainName".into(), "-".into()));
        v.push(("TargetLogonId".into(), "0x0".into()));
        v.push((
            "ParentProcessName".into(),
            r"C:\Windows\System32\services.exe".into(),
        ));
        v.push(("MandatoryLabel".into(), "S-1-16-16384".into()));
    }

    /// A filtering platform connection's fields (5156, 5158).
    fn connection_data(&mut self, id: u16, v: &mut Vec<(String, String)>) {
        let image = self.pick(PROCESSES);
        v.push((
            "ProcessID".into(),
            self.rng.random_range(500..20000u32).to_string(),
        ));
        v.push((
            "Application".into(),
            image.replace(r"C:\", r"\device\harddiskvolume2\"),
        ));
        v.push(("Direction".into(), "%%14593".into()));
        v.push(("SourceAddress".into(), self.ip()));
        v.push((
            "SourcePort".into(),
            self.rng.random_range(49152..65535u32).to_string(),
        ));
        if id == 5156 {
            v.push(("DestAddress".into(), self.ip()));
            v.push((
                "DestPort".into(),
                self.pick(&["443", "80", "53", "445", "135", "389"]).into(),
            ));
        }
        v.push(("Protocol".into(), self.pick(&["6", "17"]).into()));
        v.push((
            "FilterRTID".into(),
            self.rng.random_range(60000..90000u32).to_string(),
        ));
        v.push(("LayerName".into(), "%%14611".into()));
        v.push(("LayerRTID".into(), "48".into()));
    }

    fn security_data(&mut self, id: u16) -> Vec<(String, String)> {
        let (sid, name, domain) = self.user();
        let subject = |v: &mut Vec<(String, String)>, lid: String| {
            v.push(("SubjectUserSid".into(), sid.clone()));
            v.push(("SubjectUserName".into(), name.clone()));
            v.push(("SubjectDomainName".into(), domain.clone()));
            v.push(("SubjectLogonId".into(), lid));
        };
        let mut v: Vec<(String, String)> = Vec::new();
        match id {
            4624 | 4625 | 4648 => {
                subject(&mut v, "0x3e7".into());
                self.logon_data(id, &mut v);
            }
            4634 => {
                let lid = self.logon_id();
                v.push(("TargetUserSid".into(), sid.clone()));
                v.push(("TargetUserName".into(), name.clone()));
                v.push(("TargetDomainName".into(), domain.clone()));
                v.push(("TargetLogonId".into(), lid));
                v.push(("LogonType".into(), self.pick(&["3", "5", "2"]).into()));
            }
            4672 => {
                let lid = self.logon_id();
                subject(&mut v, lid);
                v.push((
                    "PrivilegeList".into(),
                    "SeAssignPrimaryTokenPrivilege\n\t\t\tSeTcbPrivilege\n\t\t\tSeSecurityPrivilege\n\t\t\tSeTakeOwnershipPrivilege\n\t\t\tSeLoadDriverPrivilege\n\t\t\tSeBackupPrivilege\n\t\t\tSeRestorePrivilege\n\t\t\tSeDebugPrivilege\n\t\t\tSeAuditPrivilege\n\t\t\tSeSystemEnvironmentPrivilege\n\t\t\tSeImpersonatePrivilege\n\t\t\tSeDelegateSessionUserImpersonatePrivilege".into(),
                ));
            }
            4688 => {
                subject(&mut v, "0x3e7".into());
                self.process_data(&mut v);
            }
            5156 | 5158 => {
                self.connection_data(id, &mut v);
            }
            4798 | 4799 => {
                let lid = self.logon_id();
                subject(&mut v, lid);
                v.push((
                    "TargetUserName".into(),
                    self.pick(&["Administrators", "Users", "Remote Desktop Users", "Guest"])
                        .into(),
                ));
                v.push(("TargetDomainName".into(), "Builtin".into()));
                v.push(("TargetSid".into(), "S-1-5-32-544".into()));
                v.push((
                    "CallerProcessId".into(),
                    format!("0x{:x}", self.rng.random_range(0x200..0x4000)),
                ));
                v.push(("CallerProcessName".into(), self.pick(PROCESSES).into()));
            }
            4907 => {
                subject(&mut v, "0x3e7".into());
                v.push(("ObjectServer".into(), "Security".into()));
                v.push(("ObjectType".into(), "File".into()));
                v.push((
                    "ObjectName".into(),
                    format!(r"C:\Windows\WinSxS\amd64_microsoft-windows-servicingstack_31bf3856ad364e35_10.0.{}.1_none\wcp.dll", self.rng.random_range(19041..22631u32)),
                ));
                v.push((
                    "HandleId".into(),
                    format!("0x{:x}", self.rng.random_range(0x100..0x2000u32)),
                ));
                v.push(("OldSd".into(), "S:AI".into()));
                v.push(("NewSd".into(), "S:ARAI(AU;SAFA;DCLCRPCRSDWDWO;;;WD)".into()));
                v.push((
                    "ProcessName".into(),
                    r"C:\Windows\WinSxS\amd64_microsoft-windows-servicingstack\TiWorker.exe".into(),
                ));
            }
            _ => {
                // 5058 / 5061 / 4776: a short record of the same shape.
                subject(&mut v, "0x3e7".into());
                v.push((
                    "ProviderName".into(),
                    "Microsoft Software Key Storage Provider".into(),
                ));
                v.push((
                    "AlgorithmName".into(),
                    self.pick(&["RSA", "ECDH_P256", "UNKNOWN"]).into(),
                ));
                v.push((
                    "KeyName".into(),
                    format!(
                        "{{{:08X}-C0DE-4F5A-9A1E-{:012X}}}",
                        self.rng.random::<u32>(),
                        self.rng.random::<u64>() & 0xffff_ffff_ffff
                    ),
                ));
                v.push(("ReturnCode".into(), "0x0".into()));
            }
        }
        v
    }

    fn system_data(&mut self, id: u16) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = Vec::new();
        match id {
            7036 => {
                v.push(("param1".into(), self.pick(SERVICES).into()));
                v.push(("param2".into(), self.pick(&["running", "stopped"]).into()));
            }
            7040 => {
                v.push(("param1".into(), self.pick(SERVICES).into()));
                v.push(("param2".into(), "auto start".into()));
                v.push(("param3".into(), "demand start".into()));
                v.push(("param4".into(), "BITS".into()));
            }
            7001 | 7031 => {
                v.push(("param1".into(), self.pick(SERVICES).into()));
                v.push(("param2".into(), "1".into()));
            }
            10016 | 10010 => {
                v.push(("param1".into(), "application-specific".into()));
                v.push(("param2".into(), "Local".into()));
                v.push(("param3".into(), "Activation".into()));
                v.push((
                    "param4".into(),
                    "{2593F8B9-4EAF-457C-B68A-50F6B8EA6B54}".into(),
                ));
                v.push((
                    "param5".into(),
                    "{15C20B67-12E7-4BB6-92BB-7AFF07997402}".into(),
                ));
                v.push(("param6".into(), "NT AUTHORITY".into()));
                v.push(("param7".into(), "SYSTEM".into()));
            }
            1014 => {
                v.push((
                    "QueryName".into(),
                    self.pick(&[
                        "wpad.corp.example",
                        "settings-win.data.microsoft.com",
                        "login.live.com",
                        "ctldl.windowsupdate.com",
                    ])
                    .into(),
                ));
                v.push(("AddressLength".into(), "128".into()));
            }
            16 | 1 | 12 | 13 => {
                v.push(("HiveName".into(), r"\??\C:\Users\Default\NTUSER.DAT".into()));
                v.push((
                    "KeysUpdated".into(),
                    self.rng.random_range(0..40u32).to_string(),
                ));
                v.push((
                    "DirtyPages".into(),
                    self.rng.random_range(0..200u32).to_string(),
                ));
            }
            _ => {
                v.push((
                    "Data".into(),
                    self.rng.random_range(0..1_000_000u32).to_string(),
                ));
            }
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_sum_to_a_thousand() {
        assert_eq!(SECURITY_MIX.iter().map(|m| m.1).sum::<u32>(), 1000);
        assert_eq!(SYSTEM_MIX.iter().map(|m| m.2).sum::<u32>(), 1000);
    }

    #[test]
    fn a_day_is_sorted_and_at_the_volume_asked() {
        let mut n = Noise::new(
            Background::Realistic,
            1,
            0,
            "WS1",
            "ws1.corp",
            false,
            true,
            2,
            0,
        );
        let day = n.next_day().unwrap();
        assert!((2000..=3000).contains(&day.len()), "{}", day.len());
        assert!(day.windows(2).all(|w| w[0].time <= w[1].time));
        assert!(day.iter().all(|e| !(4698..=4702).contains(&e.event_id)));
        assert!(n.next_day().is_some());
        assert!(n.next_day().is_none());
        let mut none = Noise::new(Background::None, 1, 0, "WS1", "ws1.corp", false, true, 1, 0);
        assert_eq!(none.next_day().unwrap().len(), 0);
    }
}
