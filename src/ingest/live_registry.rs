//! The live registry of the machine `summarize` runs on (Windows only): the SOFTWARE hive is
//! locked while Windows runs, so the endpoint reads its TaskCache through the registry API
//! (`HKLM\SOFTWARE`), as [`super::hive::RegistryView`] for the same TaskCache reader the
//! hive files go through. Every key is opened read-only; names, values and counts are
//! bounded like a hive file's.

use std::rc::Rc;

use windows_sys::Win32::Foundation::{ERROR_MORE_DATA, ERROR_SUCCESS, FILETIME};
use windows_sys::Win32::System::Registry::{
    HKEY, HKEY_LOCAL_MACHINE, KEY_READ, KEY_WOW64_64KEY, RegCloseKey, RegEnumKeyExW, RegEnumValueW,
    RegOpenKeyExW, RegQueryInfoKeyW,
};

use super::hive::{HiveError, MAX_VALUE, RegistryView, ValueList};

/// An open key, closed when its last holder drops it.
pub struct Open(HKEY);

impl Drop for Open {
    fn drop(&mut self) {
        // SAFETY: the handle was returned open by RegOpenKeyExW and is closed only here,
        // once, when the last reference goes.
        unsafe {
            RegCloseKey(self.0);
        }
    }
}

/// `HKLM\SOFTWARE`, read through the registry API (the 64-bit view).
pub struct LiveSoftware;

impl super::hive::Notes for LiveSoftware {
    fn notes(&self) -> &[String] {
        &[]
    }
}

fn wide(s: &str) -> Vec<u16> {
    s.encode_utf16().chain([0]).collect()
}

fn failed(what: &str, code: u32) -> HiveError {
    HiveError::Io(format!("{what}: Windows error {code}"))
}

impl LiveSoftware {
    fn open(&self, parent: HKEY, path: &str) -> Result<Option<Rc<Open>>, HiveError> {
        let name = wide(path);
        let mut key: HKEY = std::ptr::null_mut();
        // SAFETY: `name` is NUL-terminated and outlives the call; `key` is a valid out
        // pointer; `parent` is HKLM or a key this reader holds open.
        let rc = unsafe {
            RegOpenKeyExW(
                parent,
                name.as_ptr(),
                0,
                KEY_READ | KEY_WOW64_64KEY,
                &mut key,
            )
        };
        match rc {
            ERROR_SUCCESS => Ok(Some(Rc::new(Open(key)))),
            // Not found, or not ours to read: as a hive file without that key.
            _ => Ok(None),
        }
    }

    /// Subkey and value counts, their longest names (in characters) and data (bytes), and
    /// the last written time.
    fn info(&self, key: &Open) -> Result<(u32, u32, u32, u32, u32, Option<i64>), HiveError> {
        let (mut subkeys, mut max_sub, mut values, mut max_name, mut max_data) = (0, 0, 0, 0, 0);
        let mut written = FILETIME {
            dwLowDateTime: 0,
            dwHighDateTime: 0,
        };
        // SAFETY: every out pointer is a valid local; the class and reserved ones are null,
        // which the API allows.
        let rc = unsafe {
            RegQueryInfoKeyW(
                key.0,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null(),
                &mut subkeys,
                &mut max_sub,
                std::ptr::null_mut(),
                &mut values,
                &mut max_name,
                &mut max_data,
                std::ptr::null_mut(),
                &mut written,
            )
        };
        if rc != ERROR_SUCCESS {
            return Err(failed("RegQueryInfoKeyW", rc));
        }
        let ft = u64::from(written.dwLowDateTime) | (u64::from(written.dwHighDateTime) << 32);
        Ok((
            subkeys,
            max_sub,
            values,
            max_name,
            max_data,
            super::taskcache::filetime(ft),
        ))
    }
}

impl RegistryView for LiveSoftware {
    type Key = Rc<Open>;

    fn key_at(&self, path: &str) -> Result<Option<Rc<Open>>, HiveError> {
        self.open(HKEY_LOCAL_MACHINE, &format!("SOFTWARE\\{path}"))
    }

    fn child(&self, key: &Rc<Open>, name: &str) -> Result<Option<Rc<Open>>, HiveError> {
        self.open(key.0, name)
    }

    fn children(&self, key: &Rc<Open>, max: usize) -> Result<Vec<(String, Rc<Open>)>, HiveError> {
        let (count, longest, ..) = self.info(key)?;
        let mut out = Vec::new();
        for i in 0..count.min(u32::try_from(max).unwrap_or(u32::MAX)) {
            let mut name = vec![0u16; longest as usize + 1];
            let mut len = name.len() as u32;
            // SAFETY: `name` holds `len` characters; the other pointers are null or
            // valid locals.
            let rc = unsafe {
                RegEnumKeyExW(
                    key.0,
                    i,
                    name.as_mut_ptr(),
                    &mut len,
                    std::ptr::null(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                )
            };
            if rc != ERROR_SUCCESS {
                break;
            }
            let name = String::from_utf16_lossy(&name[..len as usize]);
            if let Some(k) = self.open(key.0, &name)? {
                out.push((name, k));
            }
        }
        Ok(out)
    }

    fn written(&self, key: &Rc<Open>) -> Option<i64> {
        self.info(key).ok().and_then(|i| i.5)
    }

    fn value_list(&self, key: &Rc<Open>) -> Result<ValueList, HiveError> {
        let (_, _, count, longest, max_data, _) = self.info(key)?;
        let mut out = Vec::new();
        for i in 0..count.min(1 << 16) {
            let mut name = vec![0u16; longest as usize + 1];
            let mut len = name.len() as u32;
            let mut data = vec![0u8; (max_data as usize).min(MAX_VALUE)];
            let mut size = data.len() as u32;
            let mut kind = 0u32;
            // SAFETY: `name` holds `len` characters and `data` `size` bytes; the other
            // pointers are valid locals or null.
            let rc = unsafe {
                RegEnumValueW(
                    key.0,
                    i,
                    name.as_mut_ptr(),
                    &mut len,
                    std::ptr::null(),
                    &mut kind,
                    data.as_mut_ptr(),
                    &mut size,
                )
            };
            let value = String::from_utf16_lossy(&name[..(len as usize).min(name.len())]);
            match rc {
                ERROR_SUCCESS => {
                    data.truncate(size as usize);
                    out.push((value, Ok(data)));
                }
                ERROR_MORE_DATA => out.push((
                    value,
                    Err(HiveError::Corrupt {
                        at: 0,
                        what: format!("a value of more than {} MiB: not read", MAX_VALUE >> 20),
                    }),
                )),
                _ => break,
            }
        }
        Ok(out)
    }

    fn without_taskcache(&self) -> String {
        "this machine's registry has no TaskCache (HKLM\\SOFTWARE\\...\\Schedule\\TaskCache)".into()
    }
}
