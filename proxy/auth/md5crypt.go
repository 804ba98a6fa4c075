package auth

import "crypto/md5"

// md5Crypt computes the MD5-based crypt of Poul-Henning Kamp, which Apache
// calls apr1 (magic "$apr1$") and glibc "$1$". Written here from the
// published algorithm: no maintained library provides it.
func md5Crypt(password, salt, magic string) string {
	pw, sl := []byte(password), []byte(salt)
	alt := md5.New()
	alt.Write(pw)
	alt.Write(sl)
	alt.Write(pw)
	altSum := alt.Sum(nil)

	ctx := md5.New()
	ctx.Write(pw)
	ctx.Write([]byte(magic))
	ctx.Write(sl)
	for n := len(pw); n > 0; n -= 16 {
		ctx.Write(altSum[:min(n, 16)])
	}
	for n := len(pw); n > 0; n >>= 1 {
		if n&1 != 0 {
			ctx.Write([]byte{0})
		} else {
			ctx.Write(pw[:1])
		}
	}
	sum := ctx.Sum(nil)

	for i := 0; i < 1000; i++ {
		r := md5.New()
		if i&1 != 0 {
			r.Write(pw)
		} else {
			r.Write(sum)
		}
		if i%3 != 0 {
			r.Write(sl)
		}
		if i%7 != 0 {
			r.Write(pw)
		}
		if i&1 != 0 {
			r.Write(sum)
		} else {
			r.Write(pw)
		}
		sum = r.Sum(sum[:0])
	}

	out := make([]byte, 0, len(magic)+len(salt)+1+22)
	out = append(out, magic...)
	out = append(out, salt...)
	out = append(out, '$')
	for _, g := range [][3]int{{0, 6, 12}, {1, 7, 13}, {2, 8, 14}, {3, 9, 15}, {4, 10, 5}} {
		out = crypt64(out, uint(sum[g[0]])<<16|uint(sum[g[1]])<<8|uint(sum[g[2]]), 4)
	}
	return string(crypt64(out, uint(sum[11]), 2))
}

const itoa64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// crypt64 appends n characters of crypt's base-64 encoding of v, low bits
// first.
func crypt64(out []byte, v uint, n int) []byte {
	for ; n > 0; n-- {
		out = append(out, itoa64[v&0x3f])
		v >>= 6
	}
	return out
}
